"""Dependencies point down only: infra (config, args, program, plan, CLI) -> components -> catalogs; policy -> catalogs.

Every import of every module is read with `ast` (including imports inside functions and under TYPE_CHECKING:
those couple the layers just the same) and resolved to an absolute module name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import PROJECT_DIR

# (importing package, forbidden package, why)
FORBIDDEN: list[tuple[str, str, str]] = [
    ("catalogs", "components", "catalogs are shared facts: they know no component"),
    ("catalogs", "infra", "catalogs are shared facts: they know no stack config or program"),
    ("components", "infra", "a component takes its own frozen Args, never the stack config or the program"),
    ("infra.config", "components", "config only parses and validates; infra/args maps it onto component Args"),
    ("infra.config", "infra.args", "config is below the mapping onto component Args"),
    ("infra.config", "infra.program", "config is parsed before the program composes anything"),
    ("components", "bootstrap", "a component takes its own frozen Args, never the bootstrap program's config"),
    ("bootstrap.config", "components", "the bootstrap config only parses and validates; bootstrap/args maps it"),
    # The policy pack runs in the CLI's analyzer process on what the engine declares: it knows the shared catalogs,
    # never the program it judges.
    ("policy", "components", "the policy pack judges what the program declares; it imports only catalogs"),
    ("policy", "infra", "the policy pack judges what the program declares; it imports only catalogs"),
    ("policy", "bootstrap", "the policy pack judges what the program declares; it imports only catalogs"),
    ("components", "policy", "components do not know the policies that judge them (waivers live in catalogs)"),
    ("catalogs", "policy", "catalogs are shared facts: they know no policy"),
]


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.imported}: {self.why}"


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file; `from x import y` also yields x.y (y may be a module)."""
    module = _module_name(root, path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations(root: Path) -> list[Violation]:
    violations: set[Violation] = set()
    for path in sorted(root.glob("*/**/*.py")):
        if path.relative_to(root).parts[0] not in {"catalogs", "components", "infra", "bootstrap"}:
            continue
        module = _module_name(root, path)
        for line, imported in _imports(root, path):
            for importer, forbidden, why in FORBIDDEN:
                if _within(module, importer) and _within(imported, forbidden):
                    violations.add(Violation(str(path.relative_to(root)), line, forbidden, why))
    return sorted(violations, key=lambda v: (v.path, v.line, v.imported))


def test_dependencies_point_down_only() -> None:
    violations = layer_violations(PROJECT_DIR)
    assert not violations, "upward imports:\n" + "\n".join(map(str, violations))


def test_every_layer_package_is_checked() -> None:
    """A layer that moved or was renamed would make the rules above vacuous."""
    for package in {p for rule in FORBIDDEN for p in rule[:2]}:
        path = PROJECT_DIR / package.replace(".", "/")
        assert path.is_dir() or path.with_suffix(".py").is_file(), f"{package} does not exist: update FORBIDDEN"


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"components/k8s/a.py": "from infra.config.serving import ModelConfig\n"}, "components/k8s/a.py:1 imports infra"),
        ({"components/aws/b.py": "def f():\n    import infra.program\n"}, "components/aws/b.py:2 imports infra"),
        ({"components/gcp/c.py": "from ...infra import config\n"}, "components/gcp/c.py:1 imports infra"),
        ({"infra/config/d.py": "from components.k8s import argocd\n"}, "infra/config/d.py:1 imports components"),
        ({"infra/config/e.py": "from ..args import serving\n"}, "infra/config/e.py:1 imports infra.args"),
        ({"catalogs/f.py": "from components import x\n"}, "catalogs/f.py:1 imports components"),
        ({"infra/config/__init__.py": "from .. import program\n"}, "infra/config/__init__.py:1 imports infra.program"),
    ],
)
def test_an_upward_import_is_reported(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    reported = [str(v) for v in layer_violations(_tree(tmp_path, files))]
    assert any(line.startswith(expected) for line in reported), reported


def test_downward_imports_are_allowed(tmp_path: Path) -> None:
    files = {
        "infra/program.py": "from components.k8s import vllm_service\nfrom infra.args import serving\n",
        "infra/args/serving.py": "from components.k8s.vllm_model import VllmModel\nfrom infra.config.serving import ModelConfig\n",
        "infra/config/aws.py": "from catalogs.aws_gpu_instances import GPU_INSTANCES\nfrom .base import StrictModel\n",
        "components/k8s/vllm_pod.py": "from catalogs.gpu_scheduling import NODE_GROUP_LABEL\nfrom .vllm_model import VllmModel\n",
    }
    assert layer_violations(_tree(tmp_path, files)) == []
