#!/usr/bin/env python3
"""Render a carematch HTML report in headless Chromium and check it.

    python .ci/check-report.py target/ci-report.html \
        --sections quality,blocking,model,scores,waterfalls,clusters,settings \
        --table-only settings --screenshot target/report.png

Fails (exit 1) on:
  * any console error, uncaught page error or page crash;
  * any request other than the report file itself (data:/blob:/about: are fine;
    the report must be self-contained), and any failed request;
  * a section named in --sections that is missing;
  * a section (named or not) holding a chart that is not drawn: an
    <svg class="chart" data-points="N"> is drawn when N > 0, it contains at
    least N data marks (rect/circle/path/line/polyline carrying data-v) and its
    rendered box is wider and taller than 10px;
  * a named section without a drawn chart, unless it is listed in --table-only
    and holds a non-empty <table> (a <td> with text).
Prints one line per section on success. The full-page screenshot is written
whether the checks pass or not (it helps to see what failed).

Needs: pip install playwright; a system Chromium (Debian: apt-get install chromium).
"""
import argparse
import os
import pathlib
import sys

MARK_TAGS = ["rect", "circle", "path", "line", "polyline"]
MIN_BOX_PX = 10
ALLOWED_SCHEMES = ("data:", "blob:", "about:")

# Runs in the page; returns everything the Python side needs to judge.
COLLECT_JS = """
([markTags]) => {
  const markSel = markTags.map(t => t + '[data-v]').join(',');
  const hiddenAncestor = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === 'none') return `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} has display:none`;
      if (cs.visibility === 'hidden') return `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} has visibility:hidden`;
    }
    return null;
  };
  const chartInfo = (svg, i) => {
    const r = svg.getBoundingClientRect();
    return {
      index: i + 1,
      id: svg.id || null,
      label: svg.getAttribute('aria-label') || (svg.querySelector('title') || {}).textContent || null,
      points: svg.getAttribute('data-points'),
      marks: svg.querySelectorAll(markSel).length,
      width: r.width, height: r.height,
      hidden: hiddenAncestor(svg),
    };
  };
  const sections = [...document.querySelectorAll('section.report-section')].map(s => ({
    id: s.id,
    title: s.getAttribute('data-title'),
    charts: [...s.querySelectorAll('svg.chart')].map(chartInfo),
    tableRows: Math.max(0, ...[...s.querySelectorAll('table')].map(t =>
      [...t.querySelectorAll('tr')].filter(tr =>
        [...tr.querySelectorAll('td')].some(td => td.textContent.trim() !== '')).length)),
  }));
  const orphans = [...document.querySelectorAll('svg.chart')]
    .filter(svg => !svg.closest('section.report-section')).map(chartInfo);
  return {sections, orphans};
}
"""


def chart_problem(c):
    """None if the chart is drawn, else why not."""
    try:
        n = int(c["points"])
    except (TypeError, ValueError):
        return f"data-points={c['points']!r} is not an integer"
    if n <= 0:
        return f"data-points={n} (empty chart)"
    if c["marks"] < n:
        return (f"data-points={n} but only {c['marks']} marks "
                f"({'/'.join(MARK_TAGS)} with data-v)")
    if c["width"] <= MIN_BOX_PX or c["height"] <= MIN_BOX_PX:
        why = f"; {c['hidden']}" if c["hidden"] else ""
        return (f"rendered box {c['width']:.0f}x{c['height']:.0f}px "
                f"(needs > {MIN_BOX_PX}x{MIN_BOX_PX}){why}")
    return None


def chart_name(c):
    name = f"chart #{c['index']}"
    if c["id"]:
        name += f" (id={c['id']})"
    elif c["label"]:
        name += f" ({c['label'].strip()[:40]!r})"
    return name


def csv(s):
    return [x.strip() for x in s.split(",") if x.strip()] if s else []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", help="the HTML report file")
    ap.add_argument("--sections", default="",
                    help="comma-separated section ids that must exist (default: all found, at least one)")
    ap.add_argument("--table-only", default="",
                    help="comma-separated section ids that may pass with a non-empty <table> instead of a chart")
    ap.add_argument("--screenshot", help="write a full-page PNG here")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                    help="Chromium executable (default: $CHROMIUM or /usr/bin/chromium)")
    ap.add_argument("--settle-ms", type=int, default=500,
                    help="wait this long after load for late JS errors (default 500)")
    args = ap.parse_args()

    report = pathlib.Path(args.report).resolve()
    if not report.is_file():
        print(f"FAIL: report {args.report} does not exist", file=sys.stderr)
        return 1
    url = report.as_uri()
    wanted = csv(args.sections)
    table_only = set(csv(args.table_only))

    from playwright.sync_api import sync_playwright, Error as PWError

    errors = []  # page-level problems: console, page errors, requests

    def on_console(msg):
        if msg.type == "error":
            loc = msg.location or {}
            where = f" ({loc.get('url', '').rsplit('/', 1)[-1]}:{loc.get('lineNumber')})" if loc.get("url") else ""
            errors.append(f"console error: {msg.text}{where}")

    def on_route(route):
        u = route.request.url
        if u.split("#", 1)[0] == url or u.startswith(ALLOWED_SCHEMES):
            route.continue_()
        else:
            route.abort()

    def on_request(req):
        u = req.url
        if u.split("#", 1)[0] != url and not u.startswith(ALLOWED_SCHEMES):
            errors.append(f"network request not allowed (report must be self-contained): "
                          f"{req.resource_type} {u}")

    def on_request_failed(req):
        u = req.url
        if u.split("#", 1)[0] == url or u.startswith(ALLOWED_SCHEMES):
            errors.append(f"request failed: {u} ({req.failure})")

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=args.chromium, chromium_sandbox=False)
        except PWError as e:
            print(f"FAIL: cannot start Chromium at {args.chromium}: {e}", file=sys.stderr)
            return 1
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", on_route)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(f"uncaught page error: {exc}"))
        page.on("crash", lambda _: errors.append("page crashed"))
        page.on("request", on_request)
        page.on("requestfailed", on_request_failed)
        page.on("websocket", lambda ws: errors.append(f"websocket not allowed: {ws.url}"))

        resp = page.goto(url, wait_until="load")
        if resp is not None and not resp.ok:
            errors.append(f"report itself failed to load: HTTP {resp.status}")
        page.evaluate("() => document.fonts.ready.then(() => new Promise(r => "
                      "requestAnimationFrame(() => requestAnimationFrame(r))))")
        page.wait_for_timeout(args.settle_ms)
        data = page.evaluate(COLLECT_JS, [MARK_TAGS])
        if args.screenshot:
            shot = pathlib.Path(args.screenshot)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        browser.close()

    problems = list(dict.fromkeys(errors))  # keep order, drop duplicates
    lines = []
    by_id = {}
    for s in data["sections"]:
        if not s["id"]:
            problems.append(f"section data-title={s['title']!r}: has no id")
            continue
        if s["id"] in by_id:
            problems.append(f"section {s['id']}: id used by more than one section")
        by_id[s["id"]] = s
    if not wanted:
        wanted = list(by_id)
        if not wanted:
            problems.append("no <section class=\"report-section\"> found in the report")

    for sid in wanted:
        if sid not in by_id:
            found = ", ".join(by_id) or "none"
            problems.append(f"section {sid}: missing (sections found: {found})")
    for sid, s in by_id.items():
        title = f" ({s['title']})" if s["title"] else ""
        drawn = 0
        for c in s["charts"]:
            why = chart_problem(c)
            if why:
                problems.append(f"section {sid}{title}: {chart_name(c)} not drawn: {why}")
            else:
                drawn += 1
        marks = sum(c["marks"] for c in s["charts"])
        if sid in wanted and drawn == 0:
            if sid in table_only:
                if s["tableRows"] == 0:
                    problems.append(f"section {sid}{title}: no drawn chart and no non-empty <table>")
            elif not s["charts"]:
                problems.append(f"section {sid}{title}: no chart (<svg class=\"chart\">)")
        line = f"{sid}: {len(s['charts'])} charts, {marks} marks"
        if s["tableRows"]:
            line += f", table with {s['tableRows']} rows"
        lines.append(line)
    for c in data["orphans"]:
        why = chart_problem(c)
        if why:
            problems.append(f"{chart_name(c)} outside any section not drawn: {why}")

    if problems:
        print(f"FAIL: {report.name}: {len(problems)} problem(s)", file=sys.stderr)
        for m in problems:
            print(f"  - {m}", file=sys.stderr)
        if args.screenshot:
            print(f"  (screenshot: {args.screenshot})", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    if args.screenshot:
        print(f"screenshot: {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
