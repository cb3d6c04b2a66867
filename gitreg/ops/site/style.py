"""The site's one stylesheet (badge and chart colours match charts.STAGE_COLORS)."""

from __future__ import annotations

STYLE_FILE = "style.css"

CSS = """\
:root {
  --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --soft: #f6f8fa; --bg: #ffffff;
  --accent: #0969da; --radius: 8px;
  font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  font-size: 14px; line-height: 1.5; color: var(--fg); background: var(--soft);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header.top { background: #24292f; color: #f6f8fa; }
header.top .wrap { display: flex; align-items: center; gap: 18px; height: 52px; }
header.top a { color: #f6f8fa; }
.brand { font-weight: 700; font-size: 16px; letter-spacing: .2px; }
.logo { color: #3fb950; }
.crumbs { flex: 1; color: #afb8c1; }
.crumbs .sep { margin: 0 4px; color: #6e7781; }
.crumbs span { color: #f6f8fa; }
.built { color: #afb8c1; font-size: 12px; }
.built code { color: #f6f8fa; }
main { padding-top: 20px; padding-bottom: 24px; }
h1 { font-size: 26px; margin: 8px 0 6px; font-weight: 600; }
h2 { font-size: 17px; margin: 0 0 12px; font-weight: 600; }
section { background: var(--bg); border: 1px solid var(--line); border-radius: var(--radius);
  padding: 16px 18px; margin: 16px 0; }
.muted { color: var(--muted); font-weight: 400; }
.small { font-size: 12px; }
.lead { font-size: 15px; margin: 0 0 8px; color: #424a53; }
.sub { color: var(--muted); font-size: 12px; }
.facts { display: flex; gap: 16px; flex-wrap: wrap; color: #424a53; margin-bottom: 6px; }
.fact b { color: var(--muted); font-weight: 500; margin-right: 4px; }
.tag { display: inline-block; background: #ddf4ff; color: #0550ae; border-radius: 10px;
  padding: 0 8px; font-size: 12px; margin-right: 4px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0 4px; }
.card { background: var(--bg); border: 1px solid var(--line); border-left: 4px solid var(--c, #8c959f);
  border-radius: var(--radius); padding: 10px 16px; min-width: 130px; color: var(--muted); }
.card .big { font-size: 22px; font-weight: 600; color: var(--fg); }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--c); font-weight: 600; }
.stage-card .big { font-size: 18px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase;
  letter-spacing: .4px; border-bottom: 1px solid var(--line); white-space: nowrap; }
tbody tr:hover { background: #f6f8fa; }
tbody tr:last-child td { border-bottom: 0; }
td.name a { font-weight: 600; font-size: 15px; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 12px; font-size: 12px; font-weight: 600;
  color: var(--c); border: 1px solid var(--c); background: color-mix(in srgb, var(--c) 10%, white);
  white-space: nowrap; }
.pill { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600;
  font-variant-numeric: tabular-nums; color: #fff; background: var(--c); }
.pill:hover { text-decoration: none; filter: brightness(1.1); }
td.owner { white-space: nowrap; }
.trend svg { vertical-align: middle; }
.spark-label { display: block; font-size: 11px; color: var(--muted); }
.changed, td.num, time { white-space: nowrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.chart-box { margin: 0; border: 1px solid #eaeef2; border-radius: 6px; padding: 4px; background: #fff; }
.chart-box svg { display: block; width: 100%; height: auto; }
.legend { margin: 10px 0 0; color: var(--muted); font-size: 12px; }
.key { margin-right: 14px; white-space: nowrap; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: var(--c);
  margin-right: 5px; vertical-align: -1px; }
.timeline { list-style: none; margin: 0; padding: 0; }
.event { display: flex; gap: 16px; padding: 9px 0; border-bottom: 1px solid #eaeef2; }
.event:last-child { border-bottom: 0; }
.event .when { width: 150px; flex: none; color: var(--muted); font-size: 12px; padding-top: 2px; }
.event .seq { margin-left: 6px; color: #8c959f; }
.event .what { flex: 1; }
.action { font-weight: 600; }
.action-rollback, .action-reject { color: #cf222e; }
.action-approve { color: #1a7f37; }
.action-request { color: #9a6700; }
.move { margin-left: 4px; }
.reason { color: #424a53; font-style: italic; margin-top: 2px; }
.facts-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px;
  background: var(--bg); border: 1px solid var(--line); border-radius: var(--radius); padding: 14px 18px; }
.facts-grid dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
.facts-grid dd { margin: 2px 0 0; font-weight: 500; }
.two { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 16px; }
table.kv th { width: 40%; font-weight: 500; color: #424a53; }
.ver-big { color: var(--muted); font-weight: 400; }
pre.manifest { background: var(--soft); border: 1px solid #eaeef2; border-radius: 6px; padding: 12px;
  overflow-x: auto; margin: 0; }
.empty { padding: 24px; text-align: center; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding-bottom: 32px; }
"""
