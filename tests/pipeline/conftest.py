"""Pipeline test support: an accuracy log that the golden tests fill and the terminal summary prints."""

import pytest

_LOG = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def extraction_log(pytestconfig: pytest.Config) -> dict:
    """scenario name -> figures of its extraction (filled by test_extract.py, printed at the end)."""
    return pytestconfig.stash.setdefault(_LOG, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:  # noqa: ANN001
    log = config.stash.get(_LOG, {})
    if not log:
        return
    tr = terminalreporter
    tr.section("extraction accuracy on synthetic pages")
    tr.write_line(f"{'page':44s} {'digits kept':>13s} {'blank+speck kept':>17s} {'specks rejected':>16s} "
                  f"{'corner err':>10s} {'ms':>6s}")
    totals: dict[str, list[int]] = {}
    for name, r in sorted(log.items()):
        tr.write_line(f"{name:44s} {r['digits_kept']:5d}/{r['digits']:<5d}   {r['other_kept']:7d}/{r['other']:<7d}  "
                      f"{r['specks_rejected']:6d}/{r['specks']:<6d}   {r['corner_error']:8.2f}px {r['ms']:6.0f}")
        t = totals.setdefault(r["kind"], [0, 0, 0, 0])
        t[0] += r["digits_kept"]
        t[1] += r["digits"]
        t[2] += r["other_kept"]
        t[3] += r["other"]
    for kind, (dk, d, ok, o) in sorted(totals.items()):
        tr.write_line(f"{kind:>8s} pages: digits kept with the right label {dk}/{d} = {dk / max(d, 1):.2%}; "
                      f"blank cells and specks kept {ok}/{o} = {ok / max(o, 1):.2%}")
