"""Travel settings: mode, speed, threshold; one object passed explicitly, no globals."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ._validate import check_value
from .errors import SitingError

#: Walking speeds in km/h and their sources.
#: ``walk``: 4 km/h, so 15 min ≈ 1,000 m, the walking radius of Shanghai's 15-minute community
#: life-circle planning guideline (上海市15分钟社区生活圈规划导则, 2016: "步行 15 分钟, 约 800–1000 m").
#: ``elderly``: 3 km/h, a common planning value for older pedestrians (roughly the 15th-percentile
#: walking speed of people over 65 reported in pedestrian studies).
#: ``bike``: 12 km/h, a conservative urban cycling speed; 慢行 includes cycling and outer-district
#: plans often count it.
MODES: dict[str, dict[str, object]] = {
    "walk": {"speed_kmh": 4.0, "network": "walk"},
    "elderly": {"speed_kmh": 3.0, "network": "walk"},
    "bike": {"speed_kmh": 12.0, "network": "bike"},
}

#: Points farther than this from any usable way are not snapped (reported, counted uncovered).
DEFAULT_MAX_SNAP_M = 500.0


@dataclass(frozen=True)
class Settings:
    """How travel is measured.

    Parameters
    ----------
    mode : {"walk", "elderly", "bike"}
        Travel mode; picks the network filter and the default speed.
    speed_kmh : float, optional
        Override the mode's speed.
    minutes : float
        Coverage threshold in minutes (default 15).
    max_snap_m : float
        Largest off-network leg in metres; farther points are "too far from a walkable way".

    Each number must lie in its span of :data:`siting._validate.RANGES` (speed 1–100 km/h, minutes up to a
    day, snapping up to 10 km), the spans the CLI, scenario files and batch files check too.
    """

    mode: str = "walk"
    speed_kmh: float | None = None
    minutes: float = 15.0
    max_snap_m: float = DEFAULT_MAX_SNAP_M

    def __post_init__(self) -> None:
        """Check the mode and the numbers; derive ``speed_kmh`` from the mode when it is not given."""
        if self.mode not in MODES:
            raise SitingError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.speed_kmh is None:
            object.__setattr__(self, "speed_kmh", float(MODES[self.mode]["speed_kmh"]))  # type: ignore[arg-type]
        for name in ("speed_kmh", "minutes", "max_snap_m"):  # the spans the CLI and the files check too
            check_value(name, getattr(self, name))

    @property
    def network_type(self) -> str:
        """Osmnx network type used for this mode ("walk" or "bike")."""
        return str(MODES[self.mode]["network"])

    @property
    def metres_per_minute(self) -> float:
        """The speed in metres per minute."""
        return float(self.speed_kmh) * 1000.0 / 60.0  # type: ignore[arg-type]

    @property
    def limit_m(self) -> float:
        """The threshold as a network distance in metres."""
        return self.minutes * self.metres_per_minute

    def with_(self, **changes: object) -> Settings:
        """Return a copy with some fields changed (``speed_kmh`` is re-derived when only ``mode`` changes)."""
        if "mode" in changes and "speed_kmh" not in changes:
            changes["speed_kmh"] = None
        return replace(self, **changes)  # type: ignore[arg-type]
