"""Draw the full-stack architecture figure of the course as SVG.

Writes _static/stack/stack-all.svg (every module in colour, for the landing page) and one
stack-<module>.svg per module with that module highlighted. Run: python -m tools.stack_figure
The boxes are saturated colours with white text, so the figure reads on light and dark pages.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from tools.outline import load

OUT = Path(__file__).resolve().parent.parent / "_static" / "stack"
FONT = "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',sans-serif"

# module dir -> (colour, keywords shown under the title)
STYLE = {
    "00Summary": ("#5d6d7e", "Scaling Law · 训推差异 · 全栈视角 · 趋势"),
    "01AICluster": ("#2f6fb0", "GPU / NPU · 服务器与超节点 · 集群性能分析"),
    "02StorComm": ("#1f7f86", "NVLink · RDMA · 集合通信 · NCCL · AI 存储"),
    "03DockCloud": ("#3a8a4f", "Docker · Kubernetes · GPU 调度 · 云原生 AI"),
    "04Train": ("#c46f1c", "并行 · 训练加速 · 后训练 · 微调 · 评估"),
    "05Infer": ("#b8392e", "KV Cache · 批处理调度 · 长序列 · 量化 · 框架"),
    "06AlgoData": ("#7d4fa8", "Transformer · MoE · 新架构 · 多模态 · 数据工程"),
    "07Application": ("#a83f72", "Agent · RAG · 自动驾驶 · 具身智能 · 推荐 · 安全"),
}

W, H = 820, 470
LEFT = 150          # width of the overview column
GAP = 12
ROW_H = 62


def box(x, y, w, h, colour, title, sub, state):
    """state: 'on' (solid), 'off' (muted), 'all' (solid, landing figure)."""
    solid = state in ("on", "all")
    fill_opacity = "1" if solid else "0.16"
    text = "#ffffff" if solid else colour
    stroke_w = "3" if state == "on" else "1.5"
    parts = [
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="10" fill="{colour}" '
        f'fill-opacity="{fill_opacity}" stroke="{colour}" stroke-width="{stroke_w}"/>',
        f'<text x="{x + w / 2}" y="{y + h / 2 - 4}" text-anchor="middle" font-size="19" '
        f'font-weight="700" fill="{text}">{escape(title)}</text>',
    ]
    if sub:
        parts.append(
            f'<text x="{x + w / 2}" y="{y + h / 2 + 18}" text-anchor="middle" font-size="13" '
            f'fill="{text}">{escape(sub)}</text>'
        )
    return "\n".join(parts)


def figure(highlight: str | None) -> str:
    modules = {m.dir: m for m in load()}

    def state(d):
        if highlight is None:
            return "all"
        return "on" if d == highlight else "off"

    def label(d):
        return f"{d[:2]} {modules[d].title}"

    items = []
    x0 = LEFT + GAP
    width = W - x0 - 10
    # rows from the top: applications down to hardware; training and inference share a row
    rows = [["07Application"], ["06AlgoData"], ["04Train", "05Infer"], ["03DockCloud"],
            ["02StorComm"], ["01AICluster"]]
    y = 28
    for row in rows:
        n = len(row)
        w = (width - GAP * (n - 1)) / n
        for i, d in enumerate(row):
            colour, sub = STYLE[d]
            items.append(box(x0 + i * (w + GAP), y, w, ROW_H, colour, label(d), sub, state(d)))
        y += ROW_H + GAP
    top, bottom = 28, y - GAP
    colour, sub = STYLE["00Summary"]
    items.append(box(10, top, LEFT - 10, bottom - top, colour, "00 概述", "", state("00Summary")))
    # the overview column's keywords, one per line
    fill = "#ffffff" if state("00Summary") != "off" else colour
    for i, word in enumerate(sub.split(" · ")):
        items.append(f'<text x="{10 + (LEFT - 10) / 2}" y="{(top + bottom) / 2 + 30 + i * 20}" '
                     f'text-anchor="middle" font-size="13" fill="{fill}">{escape(word)}</text>')
    items.append(f'<text x="{x0}" y="18" font-size="13" fill="#7a7a7a">应用 ↑</text>')
    items.append(f'<text x="{x0}" y="{bottom + 20}" font-size="13" fill="#7a7a7a">硬件 ↓</text>')
    title = "大模型系统全栈：八个模块" if highlight is None else f"大模型系统全栈中的{modules[highlight].title}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {bottom + 30}" role="img" '
        f'aria-label="{escape(title)}" font-family="{FONT}">\n<title>{escape(title)}</title>\n'
        + "\n".join(items) + "\n</svg>\n"
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stack-all.svg").write_text(figure(None), encoding="utf-8")
    for d in STYLE:
        (OUT / f"stack-{d}.svg").write_text(figure(d), encoding="utf-8")
    print(f"wrote {len(STYLE) + 1} figures to {OUT}")


if __name__ == "__main__":
    main()
