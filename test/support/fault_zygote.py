"""The fault matrix's warm Python (test/support/fault-python.sh starts it in place of
jobs/judgeloop_jobs/zygote.py): the real one, with fault-python.sh's faults applied to each job it forks, at
the moment the job's script would start, as the shell applies them to a job it starts cold."""
import os
import runpy
import sys
import time

real_run_path = runpy.run_path


def faulty_run_path(path, *args, **kwargs):
    fault_dir = os.environ.get("JUDGELOOP_FAULT_DIR", "")
    script = os.path.basename(path)
    exit0 = os.path.join(fault_dir, f"exit0-{script}")
    if fault_dir and os.path.exists(exit0):
        try:
            os.remove(exit0)
        except FileNotFoundError:
            pass  # another job took it
        else:
            print(f"fault-python: {script} exits 0 without running", flush=True)
            sys.exit(0)
    delay = os.path.join(fault_dir, "job-delay")
    if fault_dir and os.path.exists(delay):
        time.sleep(float(open(delay).read()))
    return real_run_path(path, *args, **kwargs)


zygote = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path = faulty_run_path
real_run_path(zygote, run_name="__main__")
