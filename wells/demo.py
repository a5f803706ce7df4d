"""A dozen demo wells with realistic ESP strings, for `make run` and the benchmarks.

The pump figures follow published catalogue ranges for 400-, 538- and 675-series ESPs: rated flow
and stage count go together, the recommended range sits around the best-efficiency point, and the
motor nameplate current matches the horsepower such a pump needs.
"""

import datetime

from wells.models import Well, WellStatus

# (well_id, name, field, lat, lon, pump model, stages, rated bbl/d, min bbl/d, max bbl/d, nameplate A)
DEMO_WELLS = [
    ("WELL-001", "Ghawar North 1", "Ghawar", 25.612, 49.221, "REDA D1050N", 184, 1050, 700, 1350, 48.0),
    ("WELL-002", "Ghawar North 2", "Ghawar", 25.598, 49.240, "REDA D1050N", 172, 1050, 700, 1350, 46.5),
    ("WELL-003", "Ghawar South 7", "Ghawar", 24.901, 49.310, "REDA DN1750", 156, 1750, 1200, 2200, 62.0),
    ("WELL-004", "Ghawar South 9", "Ghawar", 24.874, 49.296, "REDA DN1750", 148, 1750, 1200, 2200, 60.0),
    (
        "WELL-005",
        "Safaniya Offshore 3",
        "Safaniya",
        28.021,
        48.780,
        "Baker Centrilift P23",
        120,
        2300,
        1600,
        3000,
        75.0,
    ),
    (
        "WELL-006",
        "Safaniya Offshore 4",
        "Safaniya",
        28.044,
        48.802,
        "Baker Centrilift P23",
        126,
        2300,
        1600,
        3000,
        78.0,
    ),
    ("WELL-007", "Khurais East 12", "Khurais", 25.081, 48.032, "Alkhorayef AK-400-800", 210, 800, 500, 1050, 38.0),
    ("WELL-008", "Khurais East 15", "Khurais", 25.066, 48.051, "Alkhorayef AK-400-800", 204, 800, 500, 1050, 37.0),
    ("WELL-009", "Abqaiq 21", "Abqaiq", 25.937, 49.668, "Alkhorayef AK-538-1500", 140, 1500, 1000, 1900, 56.0),
    ("WELL-010", "Abqaiq 22", "Abqaiq", 25.951, 49.690, "Alkhorayef AK-538-1500", 136, 1500, 1000, 1900, 55.0),
    ("WELL-011", "Shaybah 5", "Shaybah", 22.514, 54.005, "REDA D460N", 260, 460, 300, 620, 28.0),
    ("WELL-012", "Manifa Causeway 8", "Manifa", 27.633, 48.981, "Baker Centrilift P62", 96, 6200, 4500, 8000, 118.0),
]


def load_demo_wells():
    """Create or refresh the demo wells; returns them. Safe to run again."""
    wells = []
    for index, row in enumerate(DEMO_WELLS):
        well_id, name, field, lat, lon, model, stages, rated, low, high, amps = row
        well, _ = Well.objects.update_or_create(
            well_id=well_id,
            defaults={
                "name": name,
                "field": field,
                "latitude": lat,
                "longitude": lon,
                # One well in maintenance so the dashboards show more than "all green".
                "status": WellStatus.MAINTENANCE if well_id == "WELL-011" else WellStatus.ACTIVE,
                "install_date": datetime.date(2024, 1, 15) + datetime.timedelta(days=29 * index),
                "timezone": "Asia/Riyadh",
                "pump_model": model,
                "pump_stages": stages,
                "rated_flow_bpd": rated,
                "min_operating_flow_bpd": low,
                "max_operating_flow_bpd": high,
                "motor_nameplate_current_a": amps,
                "motor_temp_limit_c": 150.0,
                "vibration_limit_mm_s": 7.1,
            },
        )
        wells.append(well)
    return wells
