"""The street network and everything computed on it: the second stage.

``siting.engine`` owns the walking network (CSR adjacency and segments: ``network``, ``_graphs``), snapping
to the nearest edge (``_segindex``, ``_segcells``, ``_snapping``), bounded multi-source routing
(``routing``), coverage per point / 街道 / district (``coverage``, ``_coverage``), service areas and
catchments (``_reach``, ``catchments``), access (2SFCA / E2SFCA: ``access``, ``_fca``), targets
(``targets``), the cut-off-residents check (``_cutoff``) and the small shared vocabularies ``_status`` and
``_stats``. It may import ``siting.io`` and the top-level leaves; never ``locate``, ``plan``, ``outputs``,
``scenarios`` or ``cli`` (the one exception, :meth:`CoverageResult.explore` drawing through
``siting.outputs.maps`` at call time, is listed in ``tests/test_architecture.py``).
"""
