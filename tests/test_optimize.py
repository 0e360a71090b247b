"""Tests of siting.locate (the models): brute force on small instances, spopt's MCLP, targets, quotas, scale."""

from __future__ import annotations

import time
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from siting.errors import ModelError, SitingError
from siting.locate import (
    MaximalCoverage,
    MinimumSites,
    SitingProblem,
    greedy,
    marginal_gain,
    score_candidates,
)

SEEDS = range(6)


def random_instance(seed: int, n_c: int = 12, n_p: int = 40, density: float = 0.15, groups: bool = True):
    """Dense bool reach (n_c × n_p), integer weights, existing coverage, point and candidate groups."""
    rng = np.random.default_rng(seed)
    reach = rng.random((n_c, n_p)) < density
    w = rng.integers(1, 100, n_p).astype(float)
    c0 = rng.random(n_p) < 0.2
    pg = np.array(["A", "B", "C"])[rng.integers(0, 3, n_p)] if groups else None
    cg = np.array(["A", "B", "C"])[np.arange(n_c) % 3] if groups else None
    return reach, w, c0, pg, cg


def covered_value(reach, w, c0, combo) -> float:
    cov = c0 | reach[list(combo)].any(axis=0) if len(combo) else c0
    return float(w[cov].sum())


def brute_best(reach, w, c0, k, *, locked=(), forbidden=(), cg=None, quotas=None) -> float:
    """True optimum of choose-k by enumeration (quotas exact, the rest outside quota groups)."""
    best = -1.0
    for combo in combinations(range(reach.shape[0]), k):
        if not set(locked) <= set(combo) or set(forbidden) & set(combo):
            continue
        if quotas:
            gs = cg[list(combo)]
            if any((gs == g).sum() != q for g, q in quotas.items()):
                continue
        best = max(best, covered_value(reach, w, c0, combo))
    return best


def brute_fewest(reach, w, c0, target, pg=None, group_target=None) -> int | None:
    """Fewest sites reaching ``target`` share (and every group ≥ ``group_target``) by enumeration."""
    total = w.sum()
    for k in range(reach.shape[0] + 1):
        for combo in combinations(range(reach.shape[0]), k):
            cov = c0 | reach[list(combo)].any(axis=0) if len(combo) else c0
            ok = target is None or w[cov].sum() >= target * total - 1e-9
            if ok and group_target is not None:
                ok = all(w[cov & (pg == g)].sum() >= group_target * w[pg == g].sum() - 1e-9 for g in set(pg))
            if ok:
                return k
    return None


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_choose_k_matches_brute_force_and_beats_greedy(seed, k):
    reach, w, c0, pg, cg = random_instance(seed)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    model = MaximalCoverage(prob, k).solve(time_limit=10)
    assert model.solution.objective == pytest.approx(brute_best(reach, w, c0, k))
    assert model.status == "optimal" and model.mip_gap == 0.0
    assert model.objective >= model.greedy_solution.objective
    assert len(set(model.chosen.tolist())) == k
    assert covered_value(reach, w, c0, model.chosen) == pytest.approx(model.objective)
    assert model.solution.assigned.sum() == pytest.approx(model.solution.added_residents)
    assert model.solution.bound == pytest.approx(model.objective)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_from_sparse_matches_brute_force(seed):
    """spopt's shape: built from a sparse matrix and residents, solved, results as attributes."""
    reach, w, c0, pg, cg = random_instance(seed)
    mc = MaximalCoverage.from_sparse(sp.csr_matrix(reach), w, 3, covered0=c0, groups=pg, candidate_groups=cg,
                                     forbidden=[0]).solve()
    assert mc.objective == pytest.approx(brute_best(reach, w, c0, 3, forbidden=[0]))
    assert mc.bound == pytest.approx(mc.objective) and mc.status == "optimal" and 0 not in mc.chosen.tolist()
    ms = MinimumSites.from_sparse(sp.csr_matrix(reach), w, 0.6, covered0=c0).solve()
    best = brute_fewest(reach, w, c0, 0.6)
    assert (ms.objective == best and ms.bound == best) if best is not None else not ms.feasible


@pytest.mark.parametrize("seed", SEEDS)
def test_locked_and_forbidden_respected(seed):
    reach, w, c0, pg, cg = random_instance(seed)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    gains = marginal_gain(prob)
    locked, forbidden = [int(np.argmin(gains))], [int(np.argmax(gains)), int(np.argsort(gains)[-2])]
    model = MaximalCoverage(prob, 3, locked=locked, forbidden=forbidden).solve()
    assert set(locked) <= set(model.chosen.tolist())
    assert not set(forbidden) & set(model.chosen.tolist())
    assert model.objective == pytest.approx(brute_best(reach, w, c0, 3, locked=locked, forbidden=forbidden))
    g = greedy(prob, 3, locked=locked, forbidden=forbidden)
    assert g.chosen[0] == locked[0] and not set(forbidden) & set(g.chosen.tolist())
    assert g.objective <= model.objective + 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_quotas_match_brute_force(seed):
    reach, w, c0, pg, cg = random_instance(seed)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    quotas = {"A": 2, "C": 1}
    model = MaximalCoverage(prob, quotas=quotas).solve()  # k = sum of quotas = 3
    assert sorted(cg[model.chosen].tolist()) == ["A", "A", "C"]
    assert model.objective == pytest.approx(brute_best(reach, w, c0, 3, cg=cg, quotas=quotas))
    # with k = 4 the extra site must come from the group without quota (B)
    model4 = MaximalCoverage(prob, 4, quotas=quotas).solve()
    assert sorted(cg[model4.chosen].tolist()) == ["A", "A", "B", "C"]
    assert model4.objective == pytest.approx(brute_best(reach, w, c0, 4, cg=cg, quotas={**quotas, "B": 1}))
    g = greedy(prob, 4, quotas=quotas)
    assert sorted(cg[g.chosen].tolist()) == ["A", "A", "B", "C"]
    assert g.objective <= model4.objective + 1e-9


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("target", [0.6, 0.8])
def test_fewest_sites_matches_brute_force(seed, target):
    reach, w, c0, pg, cg = random_instance(seed, density=0.25)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    best = brute_fewest(reach, w, c0, target)
    model = MinimumSites(prob, target).solve()
    if best is None:
        assert not model.feasible
    else:
        assert model.feasible and model.objective == best, model.message
        assert model.solution.coverage_rate >= target - 1e-12
        assert model.mip_gap == 0.0
        assert greedy(prob, target=target).k >= best


@pytest.mark.parametrize("seed", SEEDS)
def test_per_group_target_honoured(seed):
    reach, w, c0, pg, cg = random_instance(seed, density=0.3)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    reachable = c0 | reach.any(axis=0)
    tau = min(0.7, min(w[reachable & (pg == g)].sum() / w[pg == g].sum() for g in "ABC"))
    model = MinimumSites(prob, per_group_target=tau).solve()
    assert model.feasible
    assert (model.solution.per_group["rate_after"] >= tau - 1e-12).all()
    assert model.objective == brute_fewest(reach, w, c0, None, pg, tau)
    # a dict of per-group targets: only B must reach it
    only_b = MinimumSites(prob, per_group_target={"B": tau}).solve()
    assert only_b.solution.per_group.set_index("group").loc["B", "rate_after"] >= tau - 1e-12
    assert only_b.objective <= model.objective


def test_unreachable_target_reports_best_coverage():
    reach, w, c0, pg, cg = random_instance(3, density=0.1)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    best_rate = w[c0 | reach.any(axis=0)].sum() / w.sum()
    assert best_rate < 1.0
    model = MinimumSites(prob, 1.0).solve()
    sol = model.solution
    assert not model.feasible and not sol.feasible
    assert sol.coverage_rate == pytest.approx(best_rate)
    # fewest sites that reach the best reachable coverage
    assert sol.k == brute_fewest(reach, w, c0, best_rate - 1e-12)
    assert "target 100 % unreachable with these 12 candidates" in model.message
    assert f"best {100 * best_rate:.1f} % with {sol.k} sites" in model.message
    g = greedy(prob, target=1.0)
    assert not g.feasible and g.coverage_rate == pytest.approx(best_rate)
    # the greedy answer kept beside the exact one tells the same truth (issue 10, item 19)
    assert not model.greedy_solution.feasible and "unreachable" in model.greedy_solution.message
    # a forbidden site shrinks the candidate count named in the message
    assert "these 11 candidates" in MinimumSites(prob, 1.0, forbidden=[0]).solve().message


def test_unreachable_group_target_named():
    reach, w, c0, pg, cg = random_instance(3, density=0.1)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    model = MinimumSites(prob, per_group_target=1.0).solve()
    assert not model.feasible
    for g in "ABC":
        rate = w[(c0 | reach.any(axis=0)) & (pg == g)].sum() / w[pg == g].sum()
        if rate < 1:
            assert f"街道 {g} target 100 %" in model.message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_c=st.integers(2, 9),
    n_p=st.integers(1, 30),
    density=st.floats(0.05, 0.6),
    k=st.integers(1, 4),
)
def test_exact_never_worse_than_greedy(seed, n_c, n_p, density, k):
    reach, w, c0, _, _ = random_instance(seed, n_c, n_p, density, groups=False)
    k = min(k, n_c)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0)
    model = MaximalCoverage(prob, k).solve(time_limit=10)
    assert model.objective >= model.greedy_solution.objective - 1e-9
    assert model.objective == pytest.approx(brute_best(reach, w, c0, k))
    assert model.solution.k == k


@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")  # PuLP 3 on its 4.0 API
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_objective_as_spopt_mclp(seed):
    """spopt's MCLP on the same reach matrix. spopt has no notion of existing coverage, so the points
    already covered are removed from its instance (they are a constant in our objective)."""
    spopt_locate = pytest.importorskip("spopt.locate")
    pulp = pytest.importorskip("pulp")
    reach, w, c0, pg, cg = random_instance(seed, n_c=15, n_p=60)
    keep = ~c0
    cost = np.where(reach[:, keep].T, 0.0, 1.0)  # clients × facilities, 0 = reaches
    for k in (2, 4):
        mclp = spopt_locate.MCLP.from_cost_matrix(cost, w[keep], service_radius=0.5, p_facilities=k)
        mclp.solve(pulp.HiGHS(msg=False))
        spopt_value = pulp.value(mclp.problem.objective)
        ours = MaximalCoverage(SitingProblem(sp.csr_matrix(reach), w, c0), k).solve()
        assert ours.objective == pytest.approx(w[c0].sum() + spopt_value)
        assert ours.solution.added_residents == pytest.approx(spopt_value)


def test_marginal_gain_and_scores():
    reach, w, c0, pg, cg = random_instance(5)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg, candidate_ids=[f"c{j}" for j in range(12)])
    expected = np.array([w[r & ~c0].sum() for r in reach])
    np.testing.assert_allclose(marginal_gain(prob), expected)
    table = score_candidates(prob, target=0.9)
    assert table["gain"].is_monotonic_decreasing and table["rank"].tolist() == list(range(1, 13))
    gap = 0.9 * w.sum() - w[c0].sum()
    np.testing.assert_allclose(table["share_of_gap"], table["gain"] / gap)
    assert table.loc[0, "candidate_id"] == f"c{int(np.argmax(expected))}"


def test_assignment_and_capacity():
    # three sites in a row: 0 reaches points 0-2, 1 reaches 2-4, 2 reaches 4-5; point 5 already covered
    reach = np.zeros((3, 6), dtype=bool)
    reach[0, 0:3] = reach[1, 2:5] = reach[2, 4:6] = True
    w = np.array([10.0, 10, 10, 50, 50, 5])
    prob = SitingProblem(sp.csr_matrix(reach), w, covered0=[0, 0, 0, 0, 0, 1], candidate_ids=["a", "b", "c"])
    model = MaximalCoverage(prob, 2, capacity=60).solve()
    sol = model.solution
    assert sol.candidate_ids.tolist() == ["b", "a"]  # build order: b adds 110, then a adds 20
    np.testing.assert_allclose(sol.assigned, [110.0, 20.0])
    assert sol.overloaded.tolist() == [True, False]
    assert sol.objective == 135.0 and sol.coverage_rate == pytest.approx(135 / 135)
    table = sol.table()
    assert table["candidate_id"].tolist() == ["b", "a"] and table["overloaded"].tolist() == [True, False]


def test_k_larger_than_useful_candidates_pads_with_zero_gain_sites():
    reach = np.zeros((4, 3), dtype=bool)
    reach[0, 0] = reach[1, 1] = True  # candidates 2 and 3 reach no one
    prob = SitingProblem(sp.csr_matrix(reach), [1.0, 2.0, 3.0], candidate_ids=["p", "q", "r", "s"])
    model = MaximalCoverage(prob, 3).solve()
    assert model.solution.k == 3 and model.objective == 3.0
    assert set(model.solution.candidate_ids[:2].tolist()) == {"p", "q"}
    assert model.solution.assigned[2] == 0.0


def test_changning_plan_quotas():
    """The 长宁 plan: 虹桥 2, 新华/仙霞/北新泾/新泾 1 — k follows from the quotas."""
    names = ["虹桥街道", "新华路街道", "仙霞新村街道", "北新泾街道", "新泾镇", "天山路街道"]
    rng = np.random.default_rng(7)
    cand_groups = np.array(names)[rng.integers(0, len(names), 60)]
    cand_groups[: len(names)] = names  # every 街道 has candidates
    reach = sp.random(60, 500, density=0.05, random_state=7, format="csr") > 0
    prob = SitingProblem(reach, rng.integers(0, 300, 500), candidate_groups=cand_groups)
    quotas = {"虹桥街道": 2, "新华路街道": 1, "仙霞新村街道": 1, "北新泾街道": 1, "新泾镇": 1}
    for sol in (MaximalCoverage(prob, quotas=quotas).solve().solution, greedy(prob, quotas=quotas)):
        got = {g: int((cand_groups[sol.chosen] == g).sum()) for g in names}
        assert got == {**quotas, "天山路街道": 0}
    with pytest.raises(ModelError, match="did you mean '虹桥街道'"):
        MaximalCoverage(prob, quotas={"虹桥": 2})


def test_validation_errors():
    reach, w, c0, pg, cg = random_instance(0)
    prob = SitingProblem(sp.csr_matrix(reach), w, c0, pg, cg)
    with pytest.raises(ModelError, match="k = 13 but only 12"):
        MaximalCoverage(prob, 13)
    with pytest.raises(ModelError, match="only 10 candidates are usable"):
        MaximalCoverage(prob, 11, forbidden=[0, 1])
    with pytest.raises(ModelError, match="both locked and forbidden"):
        MaximalCoverage(prob, 2, locked=[1], forbidden=[1, 2])
    with pytest.raises(ModelError, match="5 sites asked in A but only 4 usable"):
        MaximalCoverage(prob, quotas={"A": 5})
    with pytest.raises(ModelError, match="4 sites asked in A but only 3 usable"):
        MaximalCoverage(prob, quotas={"A": 4}, forbidden=[0])
    with pytest.raises(ModelError, match="quotas add up to 3 sites, more than k = 2"):
        MaximalCoverage(prob, 2, quotas={"A": 2, "B": 1})
    with pytest.raises(ModelError, match="not a candidate id"):
        greedy(prob, 2, locked=[99])
    with pytest.raises(ModelError, match="did you mean 0.9"):
        MinimumSites(prob, 90)
    with pytest.raises(SitingError, match="weights has shape"):
        SitingProblem(sp.csr_matrix(reach), w[:-1])
    with pytest.raises(ModelError, match="give k"):
        MaximalCoverage(prob)


def spatial_instance(n_c: int, n_p: int, nnz_per_candidate: float, n_existing: int, seed: int = 0):
    """Candidates and residents uniformly in a unit square; reach = within a radius giving ~nnz hits."""
    rng = np.random.default_rng(seed)
    cand, pts, exist = rng.random((n_c, 2)), rng.random((n_p, 2)), rng.random((n_existing, 2))
    radius = np.sqrt(nnz_per_candidate / (n_p * np.pi))
    tree = cKDTree(pts)
    reach = cKDTree(cand).sparse_distance_matrix(tree, radius, output_type="coo_matrix").tocsr() > 0
    covered0 = np.zeros(n_p, dtype=bool)
    for hits in tree.query_ball_point(exist, radius):
        covered0[hits] = True
    return SitingProblem(reach, rng.lognormal(4, 1, n_p), covered0)


def test_moderately_large_instance(capsys):
    prob = spatial_instance(2_000, 20_000, 30, 60)
    t0 = time.perf_counter()
    g = greedy(prob, 10)
    greedy_s = time.perf_counter() - t0
    model = MaximalCoverage(prob, 10).solve(time_limit=20)
    assert model.objective >= g.objective - 1e-6
    assert model.mip_gap is not None and 0 <= model.mip_gap
    assert model.status in {"optimal", "time_limit"}
    assert greedy_s < 10  # measured ~0.05 s; loose bound, timings are printed
    # a time limit of zero still returns the warm start (never worse than greedy) with its gap
    rushed = MaximalCoverage(prob, 10).solve(time_limit=0.0)
    assert rushed.objective >= g.objective - 1e-6 and rushed.mip_gap is not None
    ms = MinimumSites(prob, 0.5).solve(time_limit=20)
    assert ms.feasible and ms.solution.coverage_rate >= 0.5 and ms.objective <= greedy(prob, target=0.5).k
    with capsys.disabled():
        print(
            f"\n[optimize] 2,000 × 20,000 (nnz {prob.reach.nnz:,}): greedy k=10 {greedy_s:.3f} s "
            f"({g.coverage_rate:.4f}); HiGHS {model.solve_seconds:.2f} s status {model.status} "
            f"gap {model.mip_gap:.2e} ({model.solution.coverage_rate:.4f}); "
            f"min sites 50 %: {ms.objective} ({ms.status}, gap {ms.mip_gap}, {ms.solve_seconds:.2f} s)"
        )
