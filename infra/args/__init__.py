"""Config → component Args, one module per area: the only place that knows both."""
