"""Tests of the certificates in siting.locate (lagrange.py, certify.py): every bound against brute force,
reductions that keep the optimum, the time limit, and spopt's MCLP through `from_sparse`."""

from __future__ import annotations

import time
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimize import spatial_instance

from siting.locate import MaximalCoverage, MinimumSites, SitingProblem
from siting.locate.certify import certify_sites, covering_model
from siting.locate.greedy import make_spec, run_greedy
from siting.locate.lagrange import (
    Pools,
    covered_weight,
    dominated,
    evaluate,
    fix_by_bound,
    lagrangian,
    swap_search,
)
from siting.locate.mip import aggregate_points

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def instance(seed: int, n_c: int, n_p: int, density: float):
    rng = np.random.default_rng(seed)
    reach = sp.csr_matrix(rng.random((n_c, n_p)) < density)
    return reach, rng.integers(1, 50, n_p).astype(float)


def feasible_sets(pools: Pools):
    """Every set with all locked columns and at most ``free[p]`` others per pool (≤ rows, as the MIP)."""
    n = pools.pool.size
    others = [j for j in range(n) if not pools.locked[j]]
    base = np.flatnonzero(pools.locked).tolist()
    for r in range(int(pools.free.sum()) + 1):
        for extra in combinations(others, r):
            counts = np.bincount(pools.pool[list(extra)], minlength=len(pools.free))
            if (counts <= pools.free).all():
                yield base + list(extra)


def brute(reach, w, pools: Pools) -> float:
    return max(covered_weight(reach, w, s) for s in feasible_sets(pools))


def random_pools(seed: int, n_c: int, k: int, quotas: bool) -> Pools:
    rng = np.random.default_rng(seed + 1)
    pool = rng.integers(0, 2, n_c) if quotas else np.zeros(n_c, dtype=np.int64)
    locked = np.zeros(n_c, dtype=bool)
    locked[rng.integers(0, n_c)] = rng.random() < 0.5
    caps = np.array([1, k - 1]) if quotas else np.array([k])
    return Pools(pool, caps - np.bincount(pool[locked], minlength=len(caps)), locked)


@FAST
@given(seed=st.integers(0, 10_000), n_c=st.integers(2, 8), n_p=st.integers(1, 25), density=st.floats(0.05, 0.6),
       k=st.integers(2, 4), quotas=st.booleans())
def test_lagrangian_bound_never_below_the_optimum(seed, n_c, n_p, density, k, quotas):
    reach, w = instance(seed, n_c, n_p, density)
    pools = random_pools(seed, n_c, min(k, n_c), quotas)
    if (pools.free < 0).any():
        return
    best = brute(reach, w, pools)
    lag = lagrangian(reach, w, pools, 0.0, deadline=time.perf_counter() + 5, stop_above=-np.inf, max_iter=300)
    assert lag.bound >= best - 1e-9
    assert lag.primal is None or lag.primal_value <= best + 1e-9
    # any multipliers give a valid bound, not only the optimised ones
    rng = np.random.default_rng(seed)
    assert evaluate(reach, w, rng.random(n_p) * w * 1.5, pools).bound >= best - 1e-9


@FAST
@given(seed=st.integers(0, 10_000), n_c=st.integers(3, 8), n_p=st.integers(2, 25), density=st.floats(0.05, 0.6),
       k=st.integers(2, 4), quotas=st.booleans())
def test_fixing_and_dominance_keep_the_optimum(seed, n_c, n_p, density, k, quotas):
    reach, w = instance(seed, n_c, n_p, density)
    pools = random_pools(seed, n_c, min(k, n_c), quotas)
    if (pools.free < 0).any():
        return
    best = brute(reach, w, pools)
    incumbent = covered_weight(reach, w, swap_search(reach, w, np.flatnonzero(pools.locked).tolist(), pools,
                                                     deadline=time.perf_counter() + 5, tol=1e-9))
    lag = lagrangian(reach, w, pools, incumbent, deadline=time.perf_counter() + 5, stop_above=-np.inf, max_iter=300)
    drop, force, worst = fix_by_bound(lag, pools, incumbent)
    assert worst <= incumbent + 1e-9
    keep = np.flatnonzero(~drop)
    locked = pools.locked[keep] | force[keep]
    caps = pools.free + np.bincount(pools.pool[pools.locked], minlength=len(pools.free))
    reduced = Pools(pools.pool[keep], caps - np.bincount(pools.pool[keep][locked], minlength=len(caps)), locked)
    if (reduced.free < 0).any():  # forced columns beyond a cap: no better answer exists at all
        assert best <= incumbent + 1e-9
        return
    # the optimum is in the reduced model, or no better than the incumbent
    assert max(brute(reach[keep], w, reduced), incumbent) == pytest.approx(best)
    dom = dominated(reach, pools)
    assert not (dom & pools.locked).any()
    kept = np.flatnonzero(~dom)
    small = Pools(pools.pool[kept], pools.free, pools.locked[kept])
    assert brute(reach[kept], w, small) == pytest.approx(best)


@FAST
@given(seed=st.integers(0, 10_000), n_c=st.integers(2, 7), n_p=st.integers(1, 30), k=st.integers(1, 3))
def test_aggregation_keeps_the_optimum(seed, n_c, n_p, k):
    rng = np.random.default_rng(seed)
    reach = sp.csr_matrix(rng.random((n_c, n_p)) < 0.3)
    reach = sp.hstack([reach, reach[:, : n_p // 2]], format="csr")  # duplicated columns to merge
    w = rng.integers(1, 50, reach.shape[1]).astype(float)
    mat, wa, _ = aggregate_points(reach, w, None)
    pools = Pools(np.zeros(n_c, dtype=np.int64), np.array([min(k, n_c)]), np.zeros(n_c, dtype=bool))
    assert mat.shape[1] <= n_p  # the duplicates are merged
    assert brute(mat, wa, pools) == pytest.approx(brute(reach, w, pools))


def test_swap_search_improves_and_stays_feasible():
    reach, w = instance(3, 40, 300, 0.05)
    pools = Pools(np.arange(40) % 2, np.array([3, 2]), np.zeros(40, dtype=bool))
    start = [0, 2, 4, 1, 3]
    found = swap_search(reach, w, start, pools, deadline=time.perf_counter() + 5, tol=1e-9)
    assert covered_weight(reach, w, found) >= covered_weight(reach, w, start)
    assert np.bincount(pools.pool[found], minlength=2).tolist() == [3, 2] and len(set(found)) == 5


@pytest.mark.parametrize("seed", range(4))
def test_sites_lower_bound_never_above_the_fewest(seed):
    reach, w = instance(seed, 9, 30, 0.2)
    prob = SitingProblem(reach, w)
    spec = make_spec(prob, None, (), (), None, need_k=False)
    need = 0.8 * covered_weight(reach, w, np.arange(9))
    chosen = run_greedy(prob, spec, need, None)
    fewest = next(k for k in range(10) if any(covered_weight(reach, w, c) >= need - 1e-9
                                              for c in combinations(range(9), k)))
    lb, _ = certify_sites(prob, spec, len(chosen), 0, need, deadline=time.perf_counter() + 5)
    assert lb <= fewest <= len(chosen)
    ms = MinimumSites.from_sparse(reach, w, 0.8 * covered_weight(reach, w, np.arange(9)) / w.sum()).solve()
    assert ms.objective == fewest and ms.bound <= fewest
    assert ms.solution.bound_source in {"gains", "lagrangian", "highs"}


def test_city_scale_path_certifies_with_the_lagrangian():
    """Large enough that HiGHS is not handed the whole model: the bound comes from the Lagrangian
    (or from HiGHS on the model it reduced), and it is valid: LP bounds are ≥ any answer."""
    prob = spatial_instance(3_000, 30_000, 150, 0)
    model = MaximalCoverage(prob, 30).solve(time_limit=30, mip_rel_gap=0.01)
    sol = model.solution
    assert sol.bound_source in {"lagrangian", "highs"}
    assert model.bound >= model.objective and model.mip_gap <= 0.01
    assert model.objective >= model.greedy_solution.objective
    assert model.status in {"optimal", "gap_limit"}
    m = covering_model(prob, model.spec)
    added = covered_weight(m.reach, m.w, np.flatnonzero(np.isin(m.cols, sol.chosen)))
    assert model.objective == pytest.approx(prob.covered_before + added)


def test_time_limit_honoured_on_a_hard_instance():
    prob = spatial_instance(4_000, 40_000, 300, 0, seed=3)  # LP bound 4 % above the best answer known
    t0 = time.perf_counter()
    model = MaximalCoverage(prob, 120).solve(time_limit=2.0)
    seconds = time.perf_counter() - t0
    assert seconds < 2.2, seconds
    assert model.bound >= model.objective >= model.greedy_solution.objective
    assert model.mip_gap is not None and model.mip_gap > 0 and model.status in {"time_limit", "feasible"}
    # the greedy (submodular) bound is valid too, and never better than what was reported
    assert model.bound <= model.greedy_solution.bound + 1e-6
    t0 = time.perf_counter()
    fewest = MinimumSites(prob, 0.9).solve(time_limit=2.0)
    assert time.perf_counter() - t0 < 2.2
    assert fewest.bound <= fewest.objective <= fewest.greedy_solution.k and fewest.feasible


@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")  # PuLP 3 on its 4.0 API
def test_from_sparse_equals_spopt_mclp():
    spopt_locate = pytest.importorskip("spopt.locate")
    pulp = pytest.importorskip("pulp")
    reach, w = instance(11, 25, 120, 0.08)
    cost = np.where(reach.toarray().T, 0.0, 1.0)
    for k in (3, 6):
        mclp = spopt_locate.MCLP.from_cost_matrix(cost, w, service_radius=0.5, p_facilities=k)
        mclp.solve(pulp.HiGHS(msg=False))
        ours = MaximalCoverage.from_sparse(reach, w, k=k).solve(time_limit=30)
        assert ours.objective == pytest.approx(pulp.value(mclp.problem.objective))
        assert ours.status == "optimal" and ours.bound == pytest.approx(ours.objective)
        assert ours.solution.bound_source in {"submodular", "lagrangian", "highs"}
