"""Benchmark: two versions of the app side by side, to tell whether a change saves server CPU.

The machine's speed swings from hour to hour (and by ±15 % between two identical servers), so two
runs of bench/cpu.py made apart cannot show a 5 % saving. This runs both versions at once, as real
``webmail serve`` processes (one worker each) on one private Dovecot and Redis, each from its own
checkout (``git worktree add ../base main~3``). Their clicks alternate in blocks, so both see the
same machine. For each block it reads the app CPU from /proc (all processes of the server's
session) and prints the mean per request of each version and their ratio.

Operations, on a 4,000-message INBOX:
  open by click   GET /mail/INBOX/<uid> with HX-Target: reader, then its /body frame (never opened)
  re-open body    one of the bodies opened in the block just before, again

Run: .venv/bin/python bench/ab.py BASE_TREE NEW_TREE [--rounds 40] [--block 20] [--messages 4000]
     (the same tree twice shows the noise: a ratio within 0.97–1.03)
"""

from __future__ import annotations

import argparse
import html
import os
import statistics
import sys
import tempfile
from pathlib import Path

from imapclient import IMAPClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import serve, sign_in, stop
from bench.cpu import FRAME, LIST, READER, html_small, session_cpu_ms
from bench.reading import PASSWORD, USER, write_maildir
from webmail.devservices import DevServices


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", type=Path, help="checkout of the version to compare against")
    parser.add_argument("new", type=Path, help="checkout of the changed version")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--messages", type=int, default=4000)
    args = parser.parse_args()
    trees = {"base": args.base.resolve(), "new": args.new.resolve()}
    for tree in trees.values():
        if not (tree / "webmail" / "cli.py").is_file():
            parser.error(f"{tree} is not a checkout of the webmail")
    if args.messages < args.rounds * args.block * 2 + 300:
        parser.error("too few messages for that many opens: raise --messages")
    with DevServices(max_userip_connections=50) as services, tempfile.TemporaryDirectory() as tmp:
        services.dovecot.add_user(USER, PASSWORD)
        write_maildir(services, args.messages, html_small)
        raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        raw.login(USER, PASSWORD)
        raw.select_folder("INBOX")
        uids = raw.search(["ALL"])
        uidvalidity = raw.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
        raw.logout()
        servers = {}
        try:
            for name, tree in trees.items():
                # ``python -m webmail.cli`` imports the webmail of its working directory.
                os.chdir(tree)
                workdir = Path(tmp) / name
                workdir.mkdir()
                url, process = serve(services, workdir, workers=1, prefix=f"ab-{name}")
                servers[name] = (sign_in(url, USER, PASSWORD), process)
            fresh = iter(reversed(uids[:-200]))
            opened: dict[str, list[str]] = {name: [] for name in servers}
            for client, _ in servers.values():
                for page in range(5, 12):  # the rows' summaries at hand, as after any list
                    assert client.get(f"/mail/INBOX?page={page}", headers=LIST).status_code == 200
            cpu: dict[tuple[str, str], list[float]] = {}
            for round_ in range(args.rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for name in order:
                    client, process = servers[name]
                    session = os.getsid(process.pid)
                    before = session_cpu_ms(session)
                    for _ in range(args.block):
                        reader = client.get(f"/mail/INBOX/{next(fresh)}?uv={uidvalidity}", headers=READER)
                        assert reader.status_code == 200, reader.status_code
                        found = FRAME.search(reader.text)
                        assert found, "the reader has no body frame"
                        opened[name].append(html.unescape(found.group(1)))
                        assert client.get(opened[name][-1]).status_code == 200
                    cpu.setdefault(("open by click", name), []).append(
                        (session_cpu_ms(session) - before) / args.block
                    )
                    before = session_cpu_ms(session)
                    for body in opened[name][-args.block :]:
                        assert client.get(body).status_code == 200
                    cpu.setdefault(("re-open body", name), []).append(
                        (session_cpu_ms(session) - before) / args.block
                    )
        finally:
            for client, process in servers.values():
                client.close()
                stop(process)
        print(f"{args.rounds} rounds of {args.block} per version; app CPU per request (mean of the blocks)")
        for operation in ("open by click", "re-open body"):
            base, new = (statistics.mean(cpu[(operation, name)]) for name in ("base", "new"))
            print(f"  {operation:14s} base {base:5.2f} ms  new {new:5.2f} ms  new/base {new / base:.3f}")


if __name__ == "__main__":
    main()
