#!/usr/bin/env python3
"""Keeps Examples/ honest.

  examples.py check               parses the GitHub Actions, GitLab CI and Kubernetes examples and asserts what they
                                  promise (exit 1 listing every broken promise)
  examples.py kubernetes BINARY   runs the CronJob's container args with BINARY in a mount and network namespace
                                  where everything but the writable volumes is read-only, as the pod's user (root)

Used by Tests/MailPortCommandLineTests/ExampleTests.swift.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
# A copy of Examples/ can be checked instead (the tests break copies to prove the checks can fail).
EXAMPLES = os.environ.get("MAILPORT_EXAMPLES", os.path.join(ROOT, "Examples"))
problems = []


def expect(condition, message):
    if not condition:
        problems.append(message)
    return condition


def load(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as handle:
        text = handle.read()
    return text, list(yaml.safe_load_all(text))


def option(words, name):
    """The value after `name` in a split command line, or None."""
    for index, word in enumerate(words[:-1]):
        if word == name:
            return words[index + 1]
    return None


def audit_command(commands):
    for command in commands:
        words = shlex.split(command)
        if words[:2] == ["mailport", "scan"]:
            return words
    return None


def check_github():
    _, (workflow,) = load("github-actions.yml")
    expect(workflow.get("permissions", {}).get("security-events") == "write",
           "github: permissions: security-events: write is missing (upload-sarif needs it)")
    steps = workflow["jobs"]["audit"]["steps"]
    audit_index = next((i for i, step in enumerate(steps) if audit_command([step.get("run", "")])), None)
    if not expect(audit_index is not None, "github: no step runs mailport scan"):
        return
    words = audit_command([steps[audit_index]["run"]])
    folder = option(words, "--output-dir")
    formats = (option(words, "--format") or "").split(",")
    expect("sarif" in formats, "github: the audit does not write sarif")
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
    if not expect(len(uploads) == 1, "github: expected one github/codeql-action/upload-sarif step"):
        return
    upload = uploads[0]
    expect(upload["uses"] == "github/codeql-action/upload-sarif@v3", "github: upload-sarif is not @v3")
    inputs = upload.get("with", {})
    unknown = set(inputs) - {"sarif_file", "category", "checkout_path", "ref", "sha", "token", "matrix", "wait-for-processing"}
    expect(not unknown, f"github: upload-sarif has inputs the action does not take: {sorted(unknown)}")
    expect(inputs.get("sarif_file") == f"{folder}/latest.sarif",
           f"github: sarif_file {inputs.get('sarif_file')!r} is not the audit's {folder}/latest.sarif")
    expect(bool(inputs.get("category")), "github: upload-sarif has no category")
    for step in steps[audit_index + 1:]:
        expect(step.get("if") == "always()",
               f"github: step {step.get('name')!r} after the audit lacks if: always() (a failing gate skips it)")


def check_gitlab():
    text, (pipeline,) = load("gitlab-ci.yml")
    job = pipeline["mail-audit"]
    words = audit_command(job["script"])
    if not expect(words is not None, "gitlab: no script line runs mailport scan"):
        return
    folder = option(words, "--output-dir")
    formats = (option(words, "--format") or "").split(",")
    expect({"junit", "sarif"} <= set(formats), "gitlab: the audit does not write junit and sarif")
    artifacts = job.get("artifacts", {})
    expect(artifacts.get("when") == "always", "gitlab: artifacts: when: always is missing (a failing gate loses them)")
    expect(f"{folder}/" in artifacts.get("paths", []), f"gitlab: {folder}/ (SARIF and the rest) is not an artifact")
    reports = artifacts.get("reports", {})
    expect(reports.get("junit") == f"{folder}/latest.junit.xml",
           f"gitlab: artifacts:reports:junit is {reports.get('junit')!r}, not {folder}/latest.junit.xml")
    expect(set(reports) == {"junit"}, f"gitlab: report types other than junit: {sorted(reports)} (GitLab would "
           "expect its own schemas there, not SARIF)")
    for line in text.splitlines():
        if line.lstrip().startswith("#") and "dashboard" in line:
            expect(" not " in line, f"gitlab: the comment promises a dashboard: {line.strip()!r}")


def kubernetes_parts():
    _, documents = load("kubernetes-cronjob.yaml")
    kinds = {document["kind"]: document for document in documents}
    expect(set(kinds) == {"ConfigMap", "CronJob"}, f"kubernetes: expected a ConfigMap and a CronJob, got {sorted(kinds)}")
    pod = kinds["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: (mount, volumes[mount["name"]]) for mount in container["volumeMounts"]}
    return kinds["ConfigMap"], pod, container, mounts


def writable(mounts, path):
    """The mount path that holds `path` when it is a writable volume, else None."""
    for mount_path, (mount, _) in mounts.items():
        if (path == mount_path or path.startswith(mount_path.rstrip("/") + "/")) and not mount.get("readOnly"):
            return mount_path
    return None


def check_kubernetes():
    config_map, pod, container, mounts = kubernetes_parts()
    security = container.get("securityContext", {})
    expect(security.get("readOnlyRootFilesystem") is True, "kubernetes: readOnlyRootFilesystem is not true")
    expect(security.get("runAsNonRoot") is True, "kubernetes: runAsNonRoot is not true")
    user = pod.get("securityContext", {}).get("runAsUser")
    expect(isinstance(user, int) and user > 0, "kubernetes: the pod sets no non-root runAsUser")
    expect(pod.get("securityContext", {}).get("fsGroup") is not None,
           "kubernetes: no fsGroup, so the non-root user cannot write the reports volume")
    args = container["args"]
    config_path = option(args, "--config")
    folder = os.path.dirname(config_path)
    expect(folder in mounts and mounts[folder][1].get("configMap", {}).get("name") == config_map["metadata"]["name"],
           "kubernetes: --config is not in the ConfigMap's volume")
    settings = yaml.safe_load(config_map["data"][os.path.basename(config_path)])
    output_dir = option(args, "--output-dir") or settings.get("output-dir") or "Reports"
    expect(output_dir.startswith("/"), "kubernetes: the output folder is relative to a working folder in the image")
    # Every path the binary writes: the reports and their temporaries, index.html and the lock (in the output
    # folder unless lock-file says otherwise), and the log file if one is set.
    written = {"output folder": output_dir, "lock": settings.get("lock-file") or output_dir}
    if settings.get("log-file") or option(args, "--log-file"):
        written["log file"] = settings.get("log-file") or option(args, "--log-file")
    for what, path in written.items():
        expect(writable(mounts, path) is not None, f"kubernetes: the {what} {path} is not on a writable volume")
    return settings


def run_kubernetes(binary):
    """The CronJob's args, with each volume as a folder of this machine, in namespaces where only the writable
    volumes can be written, as the pod's user. Prints what happened; exit 1 on a broken promise."""
    config_map, pod, container, mounts = kubernetes_parts()
    user = pod["securityContext"]["runAsUser"]
    group = pod["securityContext"].get("fsGroup", user)
    base = tempfile.mkdtemp(prefix="mailport-k8s-")
    os.chmod(base, 0o755)
    mapping = {}
    writable_folders = []
    for mount_path, (mount, volume) in mounts.items():
        folder = os.path.join(base, volume["name"])
        os.makedirs(folder)
        if "configMap" in volume:
            for name, contents in config_map["data"].items():
                with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
                    handle.write(contents)
            os.chmod(folder, 0o755)
        else:
            # fsGroup: the volume belongs to the pod's group, group-writable.
            os.chown(folder, 0, group)
            os.chmod(folder, 0o2775)
        if not mount.get("readOnly"):
            writable_folders.append(folder)
        mapping[mount_path] = folder

    def mapped(word):
        for mount_path, folder in mapping.items():
            if word == mount_path or word.startswith(mount_path.rstrip("/") + "/"):
                return folder + word[len(mount_path.rstrip("/")):]
        return word

    args = [mapped(word) for word in container["args"]]
    script = r"""
        set -eu
        ip link set lo up
        # The read-only root filesystem: every mount read-only, then the writable volumes bound back in.
        for target in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
            mount -o remount,bind,ro "$target" 2>/dev/null || true
        done
        for folder in $WRITABLE; do mount --bind "$folder" "$folder"; mount -o remount,bind,rw "$folder"; done
        # Only the volumes can be written (the check that this harness can fail).
        for probe in /tmp /var/tmp / "$(dirname "$BINARY")" /dev/shm; do
            if setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --clear-groups touch "$probe/.mailport-rw-probe" 2>/dev/null \
                || touch "$probe/.mailport-rw-probe" 2>/dev/null; then
                rm -f "$probe/.mailport-rw-probe"; echo "examples: $probe is writable in the read-only setup" >&2; exit 90
            fi
        done
        exec setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --groups="$RUN_GID" \
            env -i PATH=/usr/bin:/bin HOME=/nonexistent "$BINARY" "$@"
    """
    environment = dict(os.environ, WRITABLE=" ".join(writable_folders), BINARY=binary, RUN_UID=str(user),
                       RUN_GID=str(group))
    run = subprocess.run(
        ["unshare", "--mount", "--net", "--propagation", "private", "bash", "-c", script, "mailport"] + args,
        env=environment, capture_output=True, text=True, timeout=300)
    print(f"examples: kubernetes args {args} exited {run.returncode}")
    sys.stdout.write(run.stderr)
    expect(run.returncode in (0, 1), f"kubernetes: exit status {run.returncode} (0 or 1 expected): {run.stderr.strip()}")
    output_dir = mapped(option(container["args"], "--output-dir"))
    files = sorted(os.listdir(output_dir))
    print(f"examples: {output_dir}: {' '.join(files)}")
    settings = yaml.safe_load(config_map["data"][os.path.basename(option(container["args"], "--config"))])
    for format in settings.get("formats", ["json", "html"]):
        extension = "junit.xml" if format == "junit" else format
        expect(f"latest.{extension}" in files, f"kubernetes: latest.{extension} was not written")
    expect(not any(name.startswith(".") and name != ".mailport.lock" for name in files),
           f"kubernetes: temporaries left behind: {files}")

    # The other way the example names: `--format json -o -` needs no writable volume at all.
    words = container["args"]
    at = words.index("--output-dir")
    piped = [mapped(word) for word in words[:at] + ["--format", "json", "-o", "-"] + words[at + 2:]]
    environment["WRITABLE"] = ""
    run = subprocess.run(
        ["unshare", "--mount", "--net", "--propagation", "private", "bash", "-c", script, "mailport"] + piped,
        env=environment, capture_output=True, text=True, timeout=300)
    print(f"examples: kubernetes args {piped} with nothing writable exited {run.returncode}")
    expect(run.returncode in (0, 1), f"kubernetes: -o - exit status {run.returncode}: {run.stderr.strip()}")
    try:
        report = json.loads(run.stdout)
        expect(report.get("scan", {}).get("targets") == settings["targets"], "kubernetes: -o - report is not the audit's")
    except ValueError:
        expect(False, f"kubernetes: -o - did not print one JSON report: {run.stdout[:200]!r}")
    shutil.rmtree(base)


def main():
    if sys.argv[1:] == ["check"]:
        check_github()
        check_gitlab()
        check_kubernetes()
    elif len(sys.argv) == 3 and sys.argv[1] == "kubernetes":
        run_kubernetes(os.path.abspath(sys.argv[2]))
    else:
        sys.exit(__doc__)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"examples: {sys.argv[1]}: ok")


if __name__ == "__main__":
    main()
