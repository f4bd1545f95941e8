"""Reading `frontend_contract/`: every named operation with the fragments it uses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    parse,
    print_ast,
    visit,
)

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "frontend_contract"


@dataclass(frozen=True)
class Operation:
    """One operation a screen sends, ready to send: its text includes the fragments it uses."""

    name: str
    screen: str
    path: Path
    kind: OperationType
    text: str

    @property
    def document(self) -> DocumentNode:
        """The parsed operation with its fragments."""
        return parse(self.text)


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def _spreads(node: OperationDefinitionNode | FragmentDefinitionNode) -> set[str]:
    visitor = _Spreads()
    visit(node, visitor)
    return visitor.names


def _definitions() -> tuple[
    dict[str, tuple[Path, OperationDefinitionNode]], dict[str, FragmentDefinitionNode]
]:
    operations: dict[str, tuple[Path, OperationDefinitionNode]] = {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(CONTRACT.rglob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            if isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                assert name not in fragments, f"fragment {name} is defined twice ({path})"
                fragments[name] = definition
            elif isinstance(definition, OperationDefinitionNode):
                assert definition.name is not None, f"{path}: every operation needs a name"
                name = definition.name.value
                assert name not in operations, f"operation {name} is defined twice ({path})"
                operations[name] = (path, definition)
    return operations, fragments


def _with_fragments(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> str:
    """The operation followed by every fragment it uses, directly or through other fragments."""
    needed: list[str] = []
    pending = sorted(_spreads(operation))
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        assert name in fragments, (
            f"{operation.name.value if operation.name else '?'} uses unknown fragment {name}"
        )
        needed.append(name)
        pending += sorted(_spreads(fragments[name]))
    parts = [print_ast(operation), *(print_ast(fragments[n]) for n in sorted(needed))]
    return "\n\n".join(parts) + "\n"


@cache
def operations() -> dict[str, Operation]:
    """Every operation in the contract, by name."""
    definitions, fragments = _definitions()
    return {
        name: Operation(
            name=name,
            screen=path.parent.name,
            path=path,
            kind=node.operation,
            text=_with_fragments(node, fragments),
        )
        for name, (path, node) in definitions.items()
    }


def operation(name: str) -> str:
    """The text to send for an operation of the contract."""
    return operations()[name].text


def fragment_names() -> set[str]:
    """Every fragment the contract defines."""
    return set(_definitions()[1])
