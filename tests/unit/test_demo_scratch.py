"""The demo leaves nothing behind in the temporary folder (its report goes to --out)."""

from __future__ import annotations

import io

from feecast_demo.scenario import DemoOptions, Scenario


def test_closing_the_scenario_removes_its_scratch_folder(tmp_path) -> None:
    scenario = Scenario(DemoOptions(out=tmp_path / "report"), out=io.StringIO())
    (scenario.workdir / "history.jsonl").write_text("{}\n")
    assert scenario.workdir.is_dir()
    scenario.close()
    assert not scenario.workdir.exists()
    scenario.close()  # twice (execute's finally, then a test's own close): no error
