"""judgeloop_jobs/zygote.py, the warm Python the local runner forks jobs from: what a forked job inherits,
the exit record it writes, and what the warm process reports and keeps."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from judgeloop_jobs.zygote import preload_names

ZYGOTE = Path(__file__).resolve().parents[1] / "judgeloop_jobs" / "zygote.py"

SCRIPT = textwrap.dedent('''
    import json, os, sys
    PRELOAD = ("decimal", "judgeloop_test_missing_module")
    hps = json.loads(os.environ["SM_HPS"])
    print("job says hello", flush=True)
    with open(os.environ["OUT"], "w") as f:
        json.dump({"pid": os.getpid(), "sid": os.getsid(0), "pgid": os.getpgid(0), "cwd": os.getcwd(),
                   "env": sorted(k for k in os.environ if k.startswith("ZYGOTE_TEST")), "argv": sys.argv,
                   "stdin": sys.stdin.read(), "name": __name__}, f)
    if hps.get("raise"):
        raise RuntimeError("failing on purpose")
    if "exit" in hps:
        sys.exit(hps["exit"])
''')

SLOW_SCRIPT = textwrap.dedent('''
    import os, time
    time.sleep(1.5)
    open(os.environ["OUT"], "w").write("done")
''')


class Warm:
    def __init__(self, tmp_path: Path, script: str = SCRIPT):
        self.tmp = tmp_path
        self.script = tmp_path / "job.py"
        self.script.write_text(script)
        env = {**os.environ, "ZYGOTE_TEST_BASE": "1"}
        self.proc = subprocess.Popen([sys.executable, str(ZYGOTE), "--script", str(self.script)], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.ready = json.loads(self.proc.stdout.readline())
        self.next = 0

    def launch(self, hps: dict, **extra) -> tuple[int, Path]:
        self.next += 1
        folder = self.tmp / f"job-{self.next}"
        folder.mkdir()
        env = {"PATH": os.environ.get("PATH", ""), "SM_HPS": json.dumps(hps), "OUT": str(folder / "out.json"),
               "ZYGOTE_TEST_JOB": "1"}
        request = {"id": self.next, "cwd": str(folder), "env": env, "log": str(folder / "job.log"),
                   "exit": str(folder / "exit.json"), "job": f"job-{self.next}", "spec": "abc", **extra}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert answer["id"] == self.next
        return answer.get("pid", -1), folder

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=10)


def wait_for(path: Path, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return json.loads(path.read_text())


@pytest.fixture
def warm(tmp_path):
    w = Warm(tmp_path)
    yield w
    w.close()


def test_ready_reports_what_it_preloaded_without_running_the_script(warm):
    assert warm.ready["ready"] is True and warm.ready["pid"] == warm.proc.pid
    assert warm.ready["preloaded"] == ["decimal"]
    assert warm.ready["failed"]["judgeloop_test_missing_module"].startswith("ModuleNotFoundError")
    # The script has no main guard: read for its PRELOAD, never run in the warm process.
    assert not any(warm.tmp.glob("**/out.json"))


@pytest.mark.parametrize("hps, code", [({}, 0), ({"exit": 3}, 3), ({"exit": None}, 0), ({"raise": True}, 1),
                                       ({"exit": "a message"}, 1)])
def test_the_exit_record_has_the_scripts_exit_code(warm, hps, code):
    pid, folder = warm.launch(hps)
    record = wait_for(folder / "exit.json")
    assert record["exitCode"] == code
    assert record["jobName"] == folder.name and record["specHash"] == "abc"
    # Milliseconds, not whole seconds: a job that ends within a second still counts its time.
    assert isinstance(record["seconds"], float) and 0 <= record["seconds"] < 20 and record["finishedAt"].endswith("Z")
    log = (folder / "job.log").read_text()
    assert "job says hello" in log
    if hps.get("raise"):
        assert "RuntimeError: failing on purpose" in log
    if hps.get("exit") == "a message":
        assert "a message" in log


def test_a_job_is_the_script_as_main_in_its_own_session_with_its_own_environment(warm):
    pid, folder = warm.launch({})
    wait_for(folder / "exit.json")
    seen = json.loads((folder / "out.json").read_text())
    assert seen["pid"] == pid != warm.proc.pid
    assert seen["sid"] == seen["pgid"] == pid, "leads its own session and process group"
    assert seen["cwd"] == str(folder)
    assert seen["env"] == ["ZYGOTE_TEST_JOB"], "the request's environment replaces the warm process's"
    assert seen["argv"] == [str(warm.script)] and seen["name"] == "__main__"
    assert seen["stdin"] == ""


def test_jobs_are_reaped_and_outlive_the_warm_process(warm):
    pid, folder = warm.launch({"exit": 0})
    wait_for(folder / "exit.json")
    time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), "an exited job does not linger as a zombie"
    (warm.tmp / "slow").mkdir()
    slow = Warm(warm.tmp / "slow", SLOW_SCRIPT)
    pid, folder = slow.launch({})
    assert slow.close() == 0, "the warm process ends when its stdin closes"
    assert Path(f"/proc/{pid}").exists(), "its job runs on"
    assert wait_for(folder / "exit.json")["exitCode"] == 0
    assert (folder / "out.json").read_text() == "done"


def test_a_bad_request_is_answered_with_an_error(warm):
    warm.proc.stdin.write(json.dumps({"id": 99, "cwd": "/"}) + "\n")
    warm.proc.stdin.flush()
    answer = json.loads(warm.proc.stdout.readline())
    assert answer["id"] == 99 and "'env'" in answer["error"]


@pytest.mark.parametrize("source, names", [
    ("PRELOAD = ('torch', 'trl')\n", ["torch", "trl"]),
    ("x = 1\n", []),
    ("def f():\n    PRELOAD = ('inner',)\n", []),
    ("PRELOAD = ['a']\nimport os\n", ["a"]),
])
def test_preload_names_are_read_from_the_source(source, names):
    assert preload_names(source) == names


def test_a_preload_that_is_not_names_is_an_error():
    with pytest.raises(ValueError, match="PRELOAD must be"):
        preload_names("PRELOAD = ('a', 1)\n")
