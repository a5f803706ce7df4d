"""Where the wells are, drawn as SVG on the server from their latitude and longitude: no map tiles.

An equirectangular projection scaled by the cosine of the middle latitude (true to shape at the scale
of an oil province), fitted to the wells with a margin, with a graticule for orientation and each field
labelled at the middle of its wells. Wells closer than ``CELL_PX`` on the drawing share one marker,
coloured by the worst state among them, so 2,000 wells stay a legible picture and a small page.
Plain functions over plain values; the template draws what ``fleet_map`` returns, the markers as SVG text
made here (written through the template language, a thousand markers cost more than the rest of the page).
"""

import dataclasses
import html
import math

from django.utils.safestring import mark_safe

WIDTH, HEIGHT = 640, 360
MARGIN_PX = 28
CELL_PX = 7
# The smallest span drawn, in degrees, so that one well (or one pad) is not blown up to the whole map.
MIN_SPAN_DEG = 0.2
GRATICULE_STEPS_DEG = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30)

# Marker states, worst first: the order decides a shared marker's colour.
MARKER_STATES = ("critical", "warning", "not_reporting", "down", "producing")
RANK = {state: rank for rank, state in enumerate(MARKER_STATES)}
MARKER_LABELS = {
    "critical": "critical alarm",
    "warning": "warning alarm",
    "not_reporting": "not reporting",
    "down": "down",
    "producing": "producing",
}


@dataclasses.dataclass(frozen=True)
class Marker:
    x: float
    y: float
    radius: float
    state: str
    count: int
    label: str
    well_id: str | None  # the well when the marker stands for one
    # The SVG attributes as text: a template writing floats would localize each one (slow for thousands).
    cx: str = ""
    cy: str = ""
    r: str = ""


@dataclasses.dataclass(frozen=True)
class GridLine:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    label_x: float
    label_y: float


# One marker as SVG; its label is the only text and is escaped (attribute values are numbers and states).
MARKER_SVG = '<circle cx="{}" cy="{}" r="{}" class="marker marker-{}"><title>{}</title></circle>'


def markers_svg(markers):
    """The markers as SVG elements, safe to put in the page as they are."""
    return mark_safe(  # noqa: S308 - the only text, each label, is escaped here
        "".join(MARKER_SVG.format(m.cx, m.cy, m.r, m.state, html.escape(m.label)) for m in markers)
    )


@dataclasses.dataclass(frozen=True)
class FleetMap:
    width: int
    height: int
    markers: list
    grid: list
    fields: list  # (x, y, name)
    placed: int  # wells drawn
    unplaced: int  # wells without coordinates
    counts: list  # (state, label, wells in that state), worst first

    @property
    def markers_svg(self):
        return markers_svg(self.markers)


def marker_state(row):
    """The state a well's marker shows (``row``: a ``dashboards.fleet.WellRow``)."""
    if row.critical:
        return "critical"
    if row.warning:
        return "warning"
    if row.status in ("stale", "no_data"):
        return "not_reporting"
    return "producing" if row.status == "producing" else "down"


def _step(span):
    """A graticule step giving 2 to 6 lines over ``span`` degrees."""
    for step in GRATICULE_STEPS_DEG:
        if span / step <= 6:
            return step
    return GRATICULE_STEPS_DEG[-1]


def _degrees(value, positive, negative):
    text = f"{abs(value):.2f}".rstrip("0").rstrip(".")
    return f"{text}°{positive if value >= 0 else negative}"


def fleet_map(rows, width=WIDTH, height=HEIGHT):
    """The map of ``rows`` (objects with well_id, field, latitude, longitude and the alarm/status fields)."""
    placed = [row for row in rows if row.latitude is not None and row.longitude is not None]
    state_of = {id(row): marker_state(row) for row in placed}
    totals = dict.fromkeys(MARKER_STATES, 0)
    for state in state_of.values():
        totals[state] += 1
    counts = [(state, MARKER_LABELS[state], totals[state]) for state in MARKER_STATES]
    if not placed:
        return FleetMap(width, height, [], [], [], 0, len(rows), counts)
    lats = [row.latitude for row in placed]
    lons = [row.longitude for row in placed]
    mid_lat = (min(lats) + max(lats)) / 2
    shrink = max(math.cos(math.radians(mid_lat)), 0.05)  # a degree of longitude is shorter away from the equator
    lat_span = max(max(lats) - min(lats), MIN_SPAN_DEG)
    lon_span = max(max(lons) - min(lons), MIN_SPAN_DEG / shrink)
    inner_w, inner_h = width - 2 * MARGIN_PX, height - 2 * MARGIN_PX
    scale = min(inner_w / (lon_span * shrink), inner_h / lat_span)  # px per degree of latitude
    mid_lon = (min(lons) + max(lons)) / 2

    def project(lat, lon):
        return width / 2 + (lon - mid_lon) * shrink * scale, height / 2 - (lat - mid_lat) * scale

    cells = {}
    for row in placed:
        x, y = project(row.latitude, row.longitude)
        cells.setdefault((round(x / CELL_PX), round(y / CELL_PX)), []).append((x, y, row))
    markers = []
    for members in cells.values():
        states = [state_of[id(row)] for _, _, row in members]
        state = min(states, key=RANK.__getitem__)
        x = round(sum(m[0] for m in members) / len(members), 1)
        y = round(sum(m[1] for m in members) / len(members), 1)
        if len(members) == 1:
            row = members[0][2]
            label = f"{row.well_id} {row.name}: {MARKER_LABELS[state]}"
            radius, well_id = 5.0, row.well_id
        else:
            worst = sum(s == state for s in states)
            names = ", ".join(sorted(m[2].well_id for m in members)[:5])
            label = f"{len(members)} wells ({names}…): {worst} {MARKER_LABELS[state]}"
            radius, well_id = round(min(5.0 + 1.5 * math.log2(len(members)), 11.0), 1), None
        markers.append(
            Marker(x, y, radius, state, len(members), label, well_id, f"{x:.1f}", f"{y:.1f}", f"{radius:.1f}")
        )
    # Worst drawn last, so it is on top.
    markers.sort(key=lambda marker: -RANK[marker.state])

    # Graticule over the whole drawing.
    top_lat, bottom_lat = mid_lat + (height / 2) / scale, mid_lat - (height / 2) / scale
    left_lon, right_lon = mid_lon - (width / 2) / (shrink * scale), mid_lon + (width / 2) / (shrink * scale)
    grid = []
    step = _step(top_lat - bottom_lat)
    lat = math.ceil(bottom_lat / step) * step
    while lat < top_lat:
        _, y = project(lat, mid_lon)
        grid.append(GridLine(0, round(y, 1), width, round(y, 1), _degrees(lat, "N", "S"), 4, round(y - 3, 1)))
        lat += step
    step = _step(right_lon - left_lon)
    lon = math.ceil(left_lon / step) * step
    while lon < right_lon:
        x, _ = project(mid_lat, lon)
        grid.append(GridLine(round(x, 1), 0, round(x, 1), height, _degrees(lon, "E", "W"), round(x + 3, 1), height - 4))
        lon += step

    by_field = {}
    for row in placed:
        by_field.setdefault(row.field, []).append(project(row.latitude, row.longitude))
    fields = []
    for name, points in sorted(by_field.items()):
        x = sum(p[0] for p in points) / len(points)
        y = min(p[1] for p in points) - 12
        fields.append((round(min(max(x, 40), width - 40), 1), round(max(y, 14), 1), name))
    return FleetMap(width, height, markers, grid, fields, len(placed), len(rows) - len(placed), counts)
