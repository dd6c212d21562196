"""Online password guessing against a real hub's login form: passwords evaluated per account.

Starts real hubs from our jupyterhub_config.py (tests/hubproc.py: the node proxy, the hub,
the TwinSpace service) and attacks their login form as a script would, through the proxy,
with an XSRF cookie like a browser. An answer 403 ("Invalid username or password") means
the password was evaluated; 429 ("Too many attempts") means it was refused unseen.

Locks last minutes to hours, so the throttle runs on a shrunk clock: every duration of the
policy (first lock, longest lock, an address's leak period, the pause per failure) is the
default divided by --scale, and a "day" lasts 86400/scale seconds of real time. Counts per
simulated day are what one attacker gets per real day; the attack traffic itself (request
time) is not shrunk, which only slows the attacker down a little.

Scenarios (each one simulated day):
- serial: one account, one guess after another, retried at once when refused;
- burst: one account, 30 guesses sent together, again and again;
- forged: as serial, each request (form and post) claiming another X-Real-Ip and
  X-Forwarded-For;
- many-accounts: one address guessing across --accounts accounts in turn (the address
  limit at its default);
serial, burst and forged run on a hub whose address limit is out of the way (an attacker
with many addresses: only the account's own limit holds). Also measured on the real clock:
the time of a wrong password for an existing account, an unknown username and an account
without a password (median of --timing-samples each): they must not tell which is which.

From these: the expected number of pupil accounts guessed per year by one attacker against
a hub of --pupils pupils, pupil passwords being drawn uniformly from
twinspace_kernel.passwords (5 letters alternating consonant/vowel, then a digit).

    .venv/bin/python bench/login_guessing.py [--scale 240] [--accounts 20] [--pupils 500]
        [--timing-samples 30] [--json bench/results/login_guessing.json]

Security figures are never asserted in tests from this script: it only reports numbers.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))
sys.path.insert(0, str(BENCH.parent))

from hubproc import TwinSpaceHub  # noqa: E402
from report import write_results  # noqa: E402
from utils import Caller  # noqa: E402

from twinspace_kernel import passwords  # noqa: E402

DAY = 86400.0
PASSWORD = "correct-horse-battery"
DEFAULT_LOCK, DEFAULT_STEP_DELAY = 60.0, 0.25


def pupil_password_space() -> int:
    c, v, d = len(passwords.CONSONANTS), len(passwords.VOWELS), len(passwords.DIGITS)
    return c * v * c * v * c * d


def start_hub(root: Path, name: str, scale: float, **env: str) -> TwinSpaceHub:
    hub = TwinSpaceHub(
        root / name,
        settings={"isolate_users": False},
        env={
            "TWINSPACE_LOGIN_LOCK_SECONDS": str(DEFAULT_LOCK / scale),
            "TWINSPACE_LOGIN_STEP_DELAY": str(DEFAULT_STEP_DELAY / scale),
            **env,
        },
    )
    hub.start()
    hub.wait_for_service()
    return hub


def make_accounts(hub: TwinSpaceHub, prefix: str, count: int,
                  with_password: bool = True) -> list[str]:
    admin = Caller(hub.api_base, _token=hub.tokens["twinspace-admin"], name="twinspace-admin")
    names = []
    for i in range(count):
        name = f"{prefix}{i}"
        body = {"name": name, "kind": "teacher", "display_name": name}
        if with_password:
            body["password"] = PASSWORD
        admin.ok("POST", "users", json=body)
        names.append(name)
    return names


class Attacker:
    """A script posting the hub's login form; counts evaluated and refused guesses."""

    def __init__(self, hub: TwinSpaceHub, forge: bool = False):
        self.hub, self.forge = hub, forge
        self.counter = itertools.count()
        self.evaluated: dict[str, int] = {}
        self.refused = 0
        self.other: dict[int, int] = {}
        self.lock = threading.Lock()

    def session(self) -> requests.Session:
        session = requests.Session()
        if self.forge:
            n = next(self.counter)
            forged = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
            # JupyterHub ties an anonymous form's XSRF token to the address it believes:
            # a forger sends the same lie with the form and the post.
            session.headers.update({"X-Real-Ip": forged, "X-Forwarded-For": forged})
        session.get(f"{self.hub.url}hub/login", timeout=60).raise_for_status()
        return session

    def guess(self, name: str, session: requests.Session | None = None) -> int:
        session = session or self.session()
        guess = f"guess{next(self.counter):07d}"
        code = session.post(
            f"{self.hub.url}hub/login",
            data={"username": name, "password": guess, "_xsrf": session.cookies.get("_xsrf")},
            allow_redirects=False, timeout=120,
        ).status_code
        with self.lock:
            if code == 403:
                self.evaluated[name] = self.evaluated.get(name, 0) + 1
            elif code == 429:
                self.refused += 1
            else:
                self.other[code] = self.other.get(code, 0) + 1
        return code


def run_serial(attacker: Attacker, name: str, seconds: float) -> None:
    session = None if attacker.forge else attacker.session()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        attacker.guess(name, session)


def run_bursts(attacker: Attacker, name: str, seconds: float, size: int = 30) -> None:
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(size) as pool:
        sessions = [attacker.session() for _ in range(size)]
        while time.monotonic() < deadline:
            list(pool.map(lambda s: attacker.guess(name, s), sessions))


def run_many_accounts(attacker: Attacker, names: list[str], seconds: float) -> None:
    session = attacker.session()
    deadline = time.monotonic() + seconds
    for name in itertools.cycle(names):
        if time.monotonic() >= deadline:
            return
        attacker.guess(name, session)


def answer_times(hub: TwinSpaceHub, kinds: dict[str, list[str]]) -> dict[str, list[float]]:
    """Seconds to the login form's answer to a wrong password, per kind of username (the
    kinds taken in turn, so a slow moment of the machine does not favour one)."""
    session = requests.Session()
    session.get(f"{hub.url}hub/login", timeout=60).raise_for_status()
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for names in zip(*kinds.values(), strict=True):
        for kind, name in zip(kinds, names, strict=True):
            started = time.perf_counter()
            r = session.post(
                f"{hub.url}hub/login",
                data={"username": name, "password": "wrong-guess",
                      "_xsrf": session.cookies.get("_xsrf")},
                allow_redirects=False, timeout=120,
            )
            times[kind].append(time.perf_counter() - started)
            assert r.status_code == 403, r.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=240.0,
                        help="policy durations divided by this; a day lasts 86400/scale s")
    parser.add_argument("--accounts", type=int, default=20,
                        help="accounts the many-accounts attacker cycles through")
    parser.add_argument("--pupils", type=int, default=500)
    parser.add_argument("--timing-samples", type=int, default=30)
    parser.add_argument("--json", default=str(BENCH / "results" / "login_guessing.json"))
    args = parser.parse_args()
    day = DAY / args.scale

    with tempfile.TemporaryDirectory(prefix="login-guessing-") as tmp:
        root = Path(tmp)
        # An attacker with many addresses: only each account's own limit holds.
        accounts_hub = start_hub(root, "accounts", args.scale,
                                 TWINSPACE_LOGIN_ADDRESS_THRESHOLD="1000000")
        address_hub = start_hub(root, "address", args.scale)
        try:
            serial, burst, forged = make_accounts(accounts_hub, "target", 3)
            passwordless = make_accounts(accounts_hub, "nopass", args.timing_samples,
                                         with_password=False)
            timed = make_accounts(accounts_hub, "timed", args.timing_samples)
            spread = make_accounts(address_hub, "spread", args.accounts)

            # Timing first, on the real clock, before the attacks load the machine.
            timing = answer_times(accounts_hub, {
                "wrong_password": timed,
                "unknown_user": [f"nobody{i}" for i in range(args.timing_samples)],
                "no_password": passwordless,
            })

            attackers = {
                "serial": Attacker(accounts_hub),
                "burst": Attacker(accounts_hub),
                "forged": Attacker(accounts_hub, forge=True),
                "many_accounts": Attacker(address_hub),
            }
            runs = [
                threading.Thread(target=run_serial, args=(attackers["serial"], serial, day)),
                threading.Thread(target=run_bursts, args=(attackers["burst"], burst, day)),
                threading.Thread(target=run_serial, args=(attackers["forged"], forged, day)),
                threading.Thread(target=run_many_accounts,
                                 args=(attackers["many_accounts"], spread, day)),
            ]
            print(f"attacking for one simulated day ({day:.0f} s)...", flush=True)
            for run in runs:
                run.start()
            for run in runs:
                run.join()
        finally:
            accounts_hub.stop()
            address_hub.stop()

    space = pupil_password_space()
    per_account = {key: max(a.evaluated.values(), default=0) for key, a in attackers.items()}
    address_per_day = sum(attackers["many_accounts"].evaluated.values())
    first_day = max(per_account.values())
    # After the first day an account stays at its longest lock: one guess per lock.
    per_account_year = first_day + 364 * DAY / (120 * DEFAULT_LOCK)
    # The address limit allows a burst, then one failure per leak period.
    address_day_bound = DAY / (2 * DEFAULT_LOCK) + 30
    results = {
        "scale": args.scale,
        "simulated_day_seconds": day,
        "evaluated_per_account_first_day": per_account,
        "refused": {key: a.refused for key, a in attackers.items()},
        "unexpected_answers": {key: a.other for key, a in attackers.items() if a.other},
        "many_accounts": {"accounts": args.accounts, "evaluated_per_day": address_per_day,
                          "policy_bound_per_day": address_day_bound},
        "answer_ms_median": {k: round(1000 * statistics.median(v), 1) for k, v in timing.items()},
        "answer_ms_p90": {
            k: round(1000 * statistics.quantiles(v, n=10)[-1], 1) for k, v in timing.items()
        },
        "evaluated_per_account_per_year": per_account_year,
        "pupil_password_space": space,
        "pupils": args.pupils,
        # Each evaluated guess is a new password for its account: expected accounts found
        # = guesses in a year / password space (while far below the space).
        "expected_accounts_guessed_per_year": {
            "one_address_measured": round(
                365 * min(address_per_day, args.pupils * first_day) / space, 3),
            "one_address_policy_bound": round(
                min(365 * address_day_bound, args.pupils * per_account_year) / space, 3),
            "unlimited_addresses": round(args.pupils * per_account_year / space, 3),
        },
    }
    write_results(args.json, results)
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
