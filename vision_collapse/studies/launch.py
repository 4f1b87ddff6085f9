"""How an arm runner's jobs start: as local processes (`--launcher local`, one GPU each with `--gpus`), or as one
SLURM job array through submitit (`--launcher submitit`). Either way a job is the same `vision-collapse run`
command line, so a job that stops resumes when it is started again."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from vision_collapse.errors import UserError

SUBMITIT_LOGS = "submitit"  # under OUT/logs/: submitit's pickles and each job's stdout and stderr


@dataclass(frozen=True)
class Job:
    """One (arm, seed) run: its name (the log's) and its command line."""

    name: str
    command: list[str]
    gpus: int = 1  # GPUs it takes (its train.processes): a block of that many from --gpus


@dataclass(frozen=True)
class Launch:
    """Where and how the jobs run (the command line's --launcher, --gpus and --slurm-* options)."""

    launcher: str = "local"  # 'local' processes or 'submitit' (a SLURM job array)
    jobs: int = 0  # local: processes at once; 0: one per GPU, or 2 without GPUs
    gpus: tuple[int, ...] = ()  # local: the GPUs jobs take, one each (CUDA_VISIBLE_DEVICES); () for none
    cluster: str | None = None  # submitit: None lets submitit pick (SLURM); 'local' runs the array here (tests)
    partition: str = ""  # SLURM partition; '' is the cluster's default
    time_minutes: int = 240  # SLURM time limit per job
    gpus_per_job: int = 1
    cpus_per_job: int = 4
    mem_gb: int = 32
    array_parallelism: int = 64  # jobs of the array running at once
    extra: tuple[tuple[str, str], ...] = ()  # anything else submitit's update_parameters takes

    def processes(self, gpus_per_job: int = 1) -> int:
        """Local jobs at once, when each takes `gpus_per_job` GPUs."""
        return self.jobs or len(self.gpus) // gpus_per_job or 2


def add_launch_options(parser, jobs_help: str = "local runs at once (default: one per GPU, else 2)") -> None:
    """The options every command over arms shares for starting its jobs."""
    parser.add_argument("--jobs", type=int, default=0, help=jobs_help)
    parser.add_argument("--launcher", choices=("local", "submitit"), default="local",
                        help="local processes (default) or a SLURM job array through submitit (pip install "
                             "'vision-collapse[cluster]')")
    parser.add_argument("--gpus", metavar="LIST", help="local: GPUs the jobs take, one each, e.g. 0,1,2,3 (default: "
                                                         "every visible GPU)")
    parser.add_argument("--slurm-partition", default="", metavar="NAME", help="SLURM partition (default: the "
                                                                               "cluster's)")
    parser.add_argument("--slurm-time", default="4:00:00", metavar="H:MM:SS",
                        help="time limit per job, as [D-]H:MM:SS or minutes (default 4:00:00); a job that reaches "
                             "it is requeued and resumes")
    parser.add_argument("--slurm-gpus-per-job", type=int, default=1, metavar="N")
    parser.add_argument("--slurm-cpus-per-job", type=int, default=4, metavar="N")
    parser.add_argument("--slurm-mem", default="32G", metavar="SIZE", help="memory per job, e.g. 32G (default)")
    parser.add_argument("--slurm-array-parallelism", type=int, default=64, metavar="N",
                        help="jobs of the array running at once (default 64)")
    parser.add_argument("--slurm-extra", action="append", default=[], metavar="KEY=VALUE",
                        help="any other parameter of submitit's update_parameters, e.g. slurm_account=lab "
                             "(repeatable)")


def minutes(text: str) -> int:
    """A SLURM time ([D-]H:MM:SS, H:MM or plain minutes) in whole minutes; one line when it does not parse."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?|(\d+)", text.strip())
    if not m:
        raise UserError(f"--slurm-time {text!r} does not parse; use [D-]H:MM:SS, H:MM or minutes, e.g. 4:00:00")
    if m.group(5):
        return int(m.group(5))
    days, hours, mins, secs = (int(g or 0) for g in m.groups()[:4])
    return max(1, days * 1440 + hours * 60 + mins + (secs > 0))


def visible_gpus() -> int:
    """How many GPUs this process can see (0 on a CPU machine)."""
    import torch

    return torch.cuda.device_count()


def gpu_list(text: str | None, visible: int) -> tuple[int, ...]:
    """--gpus as a tuple of ids (default: every visible GPU); one line naming a GPU that is not there."""
    if text is None:
        return tuple(range(visible))
    try:
        ids = tuple(int(g) for g in text.split(",") if g.strip())
    except ValueError:
        raise UserError(f"--gpus {text!r} must be GPU numbers such as 0,1,2,3") from None
    missing = [g for g in ids if not 0 <= g < visible]
    if missing:
        raise UserError(f"--gpus names GPU {missing[0]}, but this machine has {visible} GPU(s) (numbered from 0); "
                        f"choose from {', '.join(map(str, range(visible))) or 'none: leave --gpus out'}")
    return ids


def launch_from_args(args) -> Launch:
    """The Launch the command line asks for, checked before anything is written."""
    if args.jobs < 0:
        raise UserError(f"--jobs must be >= 1, not {args.jobs}")
    extra = []
    for item in args.slurm_extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--slurm-extra {item!r} must be KEY=VALUE, e.g. --slurm-extra slurm_account=lab")
        extra.append((key, value))
    mem = re.fullmatch(r"(\d+)\s*([GgMm]?)[Bb]?", args.slurm_mem.strip())
    if not mem:
        raise UserError(f"--slurm-mem {args.slurm_mem!r} must be a size such as 32G or 4000M")
    mem_gb = int(mem.group(1)) // (1024 if mem.group(2).lower() == "m" else 1) or 1
    launch = Launch(args.launcher, args.jobs, gpu_list(args.gpus, visible_gpus()) if args.launcher == "local" else (),
                    os.environ.get("VISION_COLLAPSE_SUBMITIT_CLUSTER") or None, args.slurm_partition,
                    minutes(args.slurm_time), args.slurm_gpus_per_job, args.slurm_cpus_per_job, mem_gb,
                    args.slurm_array_parallelism, tuple(extra))
    if launch.launcher == "submitit":
        submitit_module()
    return launch


def submitit_module():
    """submitit, or one line saying how to install it."""
    try:
        import submitit
    except ImportError:
        raise UserError("--launcher submitit needs submitit: pip install 'vision-collapse[cluster]'") from None
    return submitit


def free_port() -> int:
    """A TCP port nobody listens on now, for a process group's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_command(processes: int, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line (and environment) that runs `vision-collapse ARGV` as `processes` DDP processes under
    `accelerate launch`: one per visible GPU, or CPU processes over gloo on a machine without one."""
    import torch

    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "vision_collapse", *argv]
    return command, {} if torch.cuda.is_available() else {"ACCELERATE_USE_CPU": "true"}


def gpu_block(gpus: tuple[int, ...], slot: int, width: int, take: int) -> str:
    """CUDA_VISIBLE_DEVICES of the job in `slot`: the first `take` of the slot's block of `width` GPUs (blocks go
    round-robin over `gpus`)."""
    return ",".join(str(gpus[(slot * width + i) % len(gpus)]) for i in range(take))


def run_local(jobs: list[Job], logs: Path, launch: Launch, log: Callable[[str], None] = print) -> list[str]:
    """Run the jobs as local processes, launch.processes() at a time, each with its GPUs (or its share of the
    cores); returns one line per job that failed."""
    width = max(job.gpus for job in jobs)
    slots = launch.processes(width)
    base = {**os.environ, "TQDM_DISABLE": "1"}
    if not launch.gpus:  # two CPU-heavy processes on two cores otherwise slow each other 10x
        base["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // (slots * width)))
    free = list(range(slots))  # slot k owns the k-th block of `width` GPUs, round-robin over launch.gpus
    todo, running, failed = list(jobs), [], []
    bar = tqdm(total=len(jobs), desc="runs", disable=None)
    while todo or running:
        while todo and free:
            job, slot = todo.pop(0), free.pop(0)
            env = dict(base)
            if launch.gpus:
                env["CUDA_VISIBLE_DEVICES"] = gpu_block(launch.gpus, slot, width, job.gpus)
            handle = open(logs / f"{job.name}.log", "w")
            running.append((subprocess.Popen(job.command, stdout=handle, stderr=subprocess.STDOUT, env=env), job,
                            slot, handle))
        time.sleep(0.5)
        for entry in [r for r in running if r[0].poll() is not None]:
            proc, job, slot, handle = entry
            handle.close()
            running.remove(entry)
            free.append(slot)
            bar.update(1)
            if proc.returncode != 0:
                lines = (logs / f"{job.name}.log").read_text().strip().splitlines()
                failed.append(f"{job.name}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    bar.close()
    return failed


class _Command:
    """A submitit job: the run's command line; on preemption or timeout it is requeued and resumes from its run
    folder (and train.checkpoint_every's checkpoint inside a generation)."""

    def __init__(self, command: list[str]):
        self.command = command

    def __call__(self) -> None:
        """Run the command; fail with its last output line."""
        done = subprocess.run(self.command, capture_output=True, text=True)
        print(done.stdout, end="")
        if done.returncode:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"exit {done.returncode}")

    def checkpoint(self):
        """What submitit requeues: the same command, which resumes."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(_Command(self.command))


def run_submitit(jobs: list[Job], logs: Path, launch: Launch, log: Callable[[str], None] = print) -> list[str]:
    """Submit the jobs as one job array (reattaching to any that an earlier, crashed submission left running),
    wait for all of them, and return one line per job that failed."""
    submitit = submitit_module()
    folder = logs / SUBMITIT_LOGS
    executor = submitit.AutoExecutor(folder=folder, cluster=launch.cluster)
    gpus = max(launch.gpus_per_job, *(job.gpus for job in jobs))  # a job with train.processes=N needs N
    executor.update_parameters(timeout_min=launch.time_minutes, gpus_per_node=gpus,
                               cpus_per_task=launch.cpus_per_job, mem_gb=launch.mem_gb, name="vision-collapse",
                               slurm_array_parallelism=launch.array_parallelism,
                               **({"slurm_partition": launch.partition} if launch.partition else {}),
                               **dict(launch.extra))
    ledger = folder / "jobs.tsv"  # job name -> submitit job id, so a re-run can find what is still running
    known = dict(line.split("\t") for line in ledger.read_text().splitlines()) if ledger.is_file() else {}
    attached, fresh = {}, []
    for job in jobs:
        old = known.get(job.name)
        if old is not None:
            handle = executor._executor.job_class(folder=folder, job_id=old)
            if handle.state in ("RUNNING", "PENDING", "REQUEUED", "CONFIGURING"):
                attached[job.name] = handle
                continue
        fresh.append(job)
    with executor.batch():
        handles = [executor.submit(_Command(job.command)) for job in fresh]
    known.update({job.name: h.job_id for job, h in zip(fresh, handles)})
    folder.mkdir(parents=True, exist_ok=True)
    ledger.write_text("".join(f"{k}\t{v}\n" for k, v in known.items()))
    log(f"submitted {len(fresh)} job(s), waiting on {len(attached)} still running; logs in {folder}")
    failed = []
    for name, handle in [*zip((j.name for j in fresh), handles), *attached.items()]:
        try:
            handle.result()
        except Exception as exc:  # submitit re-raises the job's failure; keep waiting for the others
            failed.append(f"{name}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}")
    return failed


def run_jobs(jobs: list[Job], logs: Path, launch: Launch, log: Callable[[str], None] = print) -> list[str]:
    """Run the jobs with the launcher `launch` names; one line per job that failed."""
    if not jobs:
        return []
    return (run_submitit if launch.launcher == "submitit" else run_local)(jobs, logs, launch, log)
