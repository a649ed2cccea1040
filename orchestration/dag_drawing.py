"""Draw a DAG of jobs as SVG on the server: no script, nothing fetched, readable in any browser.

Layout: each job sits in the column of its longest path from a source (so every edge points right),
jobs of a column stacked in name order; input datasets that no drawn job produces are drawn as
small dataset nodes in front. Edges are curves labelled (on hover) with the dataset they carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

NODE_WIDTH = 190
NODE_HEIGHT = 48
COLUMN_GAP = 70
ROW_GAP = 18
MARGIN = 10


@dataclass
class Node:
    key: str
    label: str
    sublabel: str = ""
    state: str = ""  # active | paused | failing, or "" for a dataset node
    url: str = ""
    current: bool = False
    column: int = 0
    row: int = 0

    @property
    def x(self) -> int:
        return MARGIN + self.column * (NODE_WIDTH + COLUMN_GAP)

    @property
    def y(self) -> int:
        return MARGIN + self.row * (NODE_HEIGHT + ROW_GAP)


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, dataset)


def build_graph(jobs, *, states: dict | None = None, urls: dict | None = None, current=None) -> Graph:
    """A graph of ``jobs`` (edges from output to input dataset names) with a dataset node for each
    input no drawn job produces."""
    states = states or {}
    urls = urls or {}
    graph = Graph()
    producers = {}
    for job in jobs:
        key = f"job:{job.pk}"
        state = states.get(job.pk, "active" if job.active else "paused")
        graph.nodes[key] = Node(
            key=key,
            label=job.name,
            sublabel=f"{state} · {job.operator}",
            state=state,
            url=urls.get(job.pk, ""),
            current=current is not None and job.pk == current.pk,
        )
        for dataset in job.output_datasets:
            producers.setdefault(dataset, key)
    for job in jobs:
        for dataset in job.input_datasets:
            source = producers.get(dataset)
            if source is None:
                source = f"dataset:{dataset}"
                graph.nodes.setdefault(source, Node(key=source, label=dataset, sublabel="dataset"))
            if source != f"job:{job.pk}":
                graph.edges.append((source, f"job:{job.pk}", dataset))
    _layout(graph)
    return graph


def _layout(graph: Graph) -> None:
    incoming: dict[str, list[str]] = {key: [] for key in graph.nodes}
    for source, target, _ in graph.edges:
        incoming[target].append(source)
    column: dict[str, int] = {}

    def depth(key: str, seen: frozenset = frozenset()) -> int:
        if key in column:
            return column[key]
        if key in seen:  # a cycle cannot be saved, but never loop on bad data
            return 0
        value = max((depth(parent, seen | {key}) + 1 for parent in incoming[key]), default=0)
        column[key] = value
        return value

    for key in sorted(graph.nodes):
        depth(key)
    rows: dict[int, int] = {}
    for node in sorted(graph.nodes.values(), key=lambda n: (column[n.key], n.sublabel == "dataset", n.label)):
        node.column = column[node.key]
        node.row = rows.get(node.column, 0)
        rows[node.column] = node.row + 1


def render_svg(graph: Graph, *, title: str = "DAG") -> SafeString:
    if not graph.nodes:
        return mark_safe('<p class="cl-note">No jobs to draw.</p>')
    width = max(n.x for n in graph.nodes.values()) + NODE_WIDTH + MARGIN
    height = max(n.y for n in graph.nodes.values()) + NODE_HEIGHT + MARGIN
    edges = format_html_join("", "{}", ((_edge(graph, *edge),) for edge in graph.edges))
    nodes = format_html_join("", "{}", ((_node(node),) for node in graph.nodes.values()))
    return format_html(
        '<div class="cl-dag"><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" '
        'width="{}" height="{}" viewBox="0 0 {} {}">{}{}</svg></div>',
        title,
        width,
        height,
        width,
        height,
        edges,
        nodes,
    )


def _edge(graph: Graph, source: str, target: str, dataset: str) -> str:
    a, b = graph.nodes[source], graph.nodes[target]
    x1, y1 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT // 2
    x2, y2 = b.x, b.y + NODE_HEIGHT // 2
    bend = COLUMN_GAP // 2
    return format_html(
        '<path class="cl-edge" d="M{},{} C{},{} {},{} {},{}"><title>{}</title></path>'
        '<circle class="cl-edge-end" cx="{}" cy="{}" r="3" fill="currentColor" opacity="0.5"/>',
        x1,
        y1,
        x1 + bend,
        y1,
        x2 - bend,
        y2,
        x2,
        y2,
        dataset,
        x2,
        y2,
    )


def _node(node: Node) -> str:
    classes = "cl-node"
    if node.state:
        classes += f" cl-node--{node.state}"
    if node.current:
        classes += " cl-node--current"
    label = node.label if len(node.label) <= 26 else node.label[:25] + "…"
    body = format_html(
        '<g class="{}" transform="translate({},{})"><title>{}</title>'
        '<rect width="{}" height="{}" rx="8"/>{}'
        '<text x="{}" y="20">{}</text><text class="cl-node-sub" x="{}" y="36">{}</text></g>',
        classes,
        node.x,
        node.y,
        node.label,
        NODE_WIDTH,
        NODE_HEIGHT,
        format_html('<circle class="cl-health cl-health--{}" cx="14" cy="24" r="5"/>', node.state)
        if node.state
        else "",
        26 if node.state else 12,
        label,
        26 if node.state else 12,
        node.sublabel,
    )
    if node.url:
        return format_html('<a href="{}">{}</a>', node.url, body)
    return body
