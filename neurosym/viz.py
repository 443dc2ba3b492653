"""Drawings of knowledge bases, learning curves and trajectories (matplotlib, the ``viz``
extra)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

from neurosym.errors import OptionalDependencyError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Panel", "draw_graph", "plot_curve", "plot_lines", "plot_panels"]

_COLOURS = {
    "predicate": "#9ecae1",
    "rule": "#fdd0a2",
    "neural": "#c7e9c0",
    "constraint": "#fcbba1",
    "query": "#dadaeb",
    "state": "#fee391",
    "param": "#f0f0f0",
    "law": "#fa9fb5",
}


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise OptionalDependencyError(
            "drawing needs matplotlib: pip install 'neurosym[viz]'"
        ) from exc
    return plt


def draw_graph(graph: nx.MultiDiGraph, path: str | os.PathLike[str], *, dpi: int = 150) -> None:
    """Draw a knowledge-base graph to an image file (``.png``, ``.svg``, ``.pdf``), atomically.

    Predicates are blue ellipses, rules orange, networks green; negative edges are dashed
    red, aggregate edges dotted.

    Raises:
        OptionalDependencyError: matplotlib is not installed.
    """
    import networkx as nx

    plt = _pyplot()
    n = max(1, graph.number_of_nodes())
    size = min(24.0, 4.0 + n**0.5 * 1.6)
    fig, ax = plt.subplots(figsize=(size, size * 0.7))
    try:
        pos = _layout(graph)
        kinds = [graph.nodes[v].get("kind", "predicate") for v in graph]
        nx.draw_networkx_nodes(
            graph, pos, ax=ax, node_color=[_COLOURS.get(k, "#ffffff") for k in kinds],
            node_size=900, edgecolors="#444444",
        )  # fmt: skip
        for polarity, style, colour in (
            ("positive", "solid", "#555555"),
            ("negative", "dashed", "#cb181d"),
            ("aggregate", "dotted", "#6a51a3"),
        ):
            edges = [
                (u, v)
                for u, v, d in graph.edges(data=True)
                if d.get("polarity", "positive") == polarity
            ]
            nx.draw_networkx_edges(graph, pos, edgelist=edges, ax=ax, style=style,
                                   edge_color=colour, arrows=True, node_size=900)  # fmt: skip
        labels = {
            v: (d.get("name") or d.get("source", v)) if d.get("kind") == "rule" else v
            for v, d in graph.nodes(data=True)
        }
        nx.draw_networkx_labels(graph, pos, labels=labels, ax=ax, font_size=7)
        ax.set_axis_off()
        fig.tight_layout()
        target = Path(path)
        fd, tmp = tempfile.mkstemp(suffix=target.suffix, dir=target.parent or Path("."))
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=dpi)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        plt.close(fig)


def _layout(graph: nx.MultiDiGraph) -> dict[Any, Any]:
    import networkx as nx

    simple = nx.DiGraph(graph)
    if nx.is_directed_acyclic_graph(simple) and simple.number_of_nodes() > 0:
        for layer, nodes in enumerate(nx.topological_generations(simple)):
            for v in nodes:
                simple.nodes[v]["layer"] = layer
        return dict(nx.multipartite_layout(simple, subset_key="layer"))
    return dict(nx.spring_layout(simple, seed=0))


def plot_curve(
    values: list[float],
    path: str | os.PathLike[str],
    *,
    title: str = "",
    ylabel: str = "loss",
    smooth: int = 20,
) -> None:
    """A learning curve (raw and moving average) to an image file, atomically.

    Raises:
        OptionalDependencyError: matplotlib is not installed.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.plot(values, alpha=0.3, label="per step")
        if len(values) >= smooth:
            avg = [sum(values[i - smooth : i]) / smooth for i in range(smooth, len(values) + 1)]
            ax.plot(range(smooth - 1, len(values)), avg, label=f"mean of {smooth}")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        _save(fig, Path(path))
    finally:
        plt.close(fig)


Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]


@final
@dataclass(frozen=True)
class Panel:
    """One plot of several named ``(xs, ys)`` lines.

    Attributes:
        series: label → ``(xs, ys)``.
        markers: labels drawn as points (data) rather than lines (models).
        title, xlabel, ylabel: texts.
        zero_line: draw ``y = 0`` (for margins: a law holds above it).
        integer_x: whole numbers only on the x axis (years, epochs).
        shade: x intervals to shade (e.g. where a law is violated).
    """

    series: Series
    markers: Collection[str] = ()
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    zero_line: bool = False
    integer_x: bool = False
    shade: Sequence[tuple[float, float]] = field(default=())


def plot_panels(path: str | os.PathLike[str], panels: Sequence[Panel], *, title: str = "") -> None:
    """Panels side by side in one image file (PNG/SVG/PDF by suffix), written atomically;
    ``Panel.shade`` intervals (e.g. where a law is violated) are shaded.

    Raises:
        OptionalDependencyError: matplotlib is not installed.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    try:
        for ax, panel in zip(axes[0], panels):
            for label, (xs, ys) in panel.series.items():
                if label in panel.markers:
                    ax.plot(xs, ys, "o", markersize=3, label=label)
                else:
                    ax.plot(xs, ys, label=label)
            if panel.zero_line:
                ax.axhline(0.0, color="black", linewidth=0.8)
            for a, b in panel.shade:
                ax.axvspan(a, b, color="red", alpha=0.15)
            if panel.integer_x:
                from matplotlib.ticker import MaxNLocator

                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(panel.title)
            ax.set_xlabel(panel.xlabel)
            ax.set_ylabel(panel.ylabel)
            ax.legend(fontsize="small")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        _save(fig, Path(path))
    finally:
        plt.close(fig)


def plot_lines(
    path: str | os.PathLike[str],
    series: Series,
    *,
    markers: Collection[str] = (),
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    integer_x: bool = False,
) -> None:
    """Named lines (and data points, for the labels in ``markers``) in one plot.

    Raises:
        OptionalDependencyError: matplotlib is not installed.
    """
    plot_panels(path, [Panel(series, markers, title, xlabel, ylabel, integer_x=integer_x)])


def _save(fig: Any, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(suffix=target.suffix, dir=target.parent or Path("."))
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=150)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
