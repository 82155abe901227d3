"""Plan (and apply) a generated service repo against a local AWS emulator.

The emulator is moto in server mode, run as a child process on a free port of
127.0.0.1. Terraform reaches it through an override file
(`emulator_override.tf`) written beside the generated files of an environment
root, never by editing them. Nothing here needs an AWS account, and nothing
here talks to AWS: every endpoint of the provider points at the emulator and
the credentials are fake or minted by the emulator itself.

moto, boto3 and python-hcl2 are imported lazily so that this module (and the CLI)
imports without them; only the functions that need them require the `demo` extra.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ToolError

if TYPE_CHECKING:
    from ..model import Environment, ServiceModel

# moto's default account: requests signed with an access key moto does not know land here.
EMULATOR_ACCOUNT_ID = "123456789012"
FAKE_ACCESS_KEY = "emulator"
FAKE_SECRET_KEY = "emulator"
OVERRIDE_FILE = "emulator_override.tf"
# The provider's endpoint keys (hashicorp/aws 5.x) of every service the generated stack
# may call; a service missing here would be sent to real AWS with fake keys and fail.
ENDPOINT_SERVICES = (
    "acm",
    "appautoscaling",
    "cloudwatch",
    "codedeploy",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "elb",
    "elbv2",
    "iam",
    "kms",
    "logs",
    "route53",
    "s3",
    "secretsmanager",
    "ssm",
    "sts",
)
# Where machines of this project keep the hashicorp/aws provider (filesystem-mirror layout).
PLUGIN_DIR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
# Elsewhere a mirror may sit a few levels down (e.g. /root/.terraform.d/plugins).
MIRROR_SEARCH_ROOTS = ("/opt", "/usr/local/share", "/usr/share", "/root")
MIRROR_SEARCH_DEPTH = 3
EMULATOR_ENV = {
    # AWS managed policies (AmazonECSTaskExecutionRolePolicy, AWSCodeDeployRoleForECS) exist.
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    # ACM certificates validate at once instead of after 60 s.
    "MOTO_ACM_VALIDATION_WAIT": "0",
    # The ~1000 default AMIs are not needed and slow the first EC2 call of every account.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
# moto.server after the patches of bluegreen.emulator.moto_patches.
PATCHED_SERVER = "bluegreen.emulator.moto_patches"


class SandboxError(ToolError):
    """The emulator or terraform could not do what was asked; the message says why."""


class TerraformError(SandboxError):
    """A terraform command failed."""

    def __init__(self, args: Sequence[str], cwd: Path, returncode: int, stdout: str, stderr: str):
        self.command = ["terraform", *args]
        self.cwd = cwd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr.strip() or stdout.strip()[-4000:]) or "(no output)"
        super().__init__(f"`terraform {' '.join(args)}` failed in {cwd} (exit {returncode}):\n{detail}")


# --- terraform ---------------------------------------------------------------------------


HOW_TO_GET_TERRAFORM = (
    "Install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install) and put it on PATH, "
    "or set $TERRAFORM to the binary."
)


def find_terraform() -> str:
    """The terraform binary: $TERRAFORM, then PATH; a clear error saying how to get one otherwise."""
    explicit = os.environ.get("TERRAFORM")
    found = shutil.which(explicit or "terraform")
    if found:
        return found
    if explicit:
        raise SandboxError(f"$TERRAFORM={explicit} is not an executable. {HOW_TO_GET_TERRAFORM}")
    raise SandboxError(f"terraform is not on PATH. {HOW_TO_GET_TERRAFORM}")


def find_plugin_dir() -> Path | None:
    """A provider mirror holding hashicorp/aws: $TF_PLUGIN_DIR, then the machine's; None: download."""
    explicit = os.environ.get("TF_PLUGIN_DIR")
    if explicit:
        path = Path(explicit).expanduser()
        if not _is_mirror(path):
            raise SandboxError(
                f"$TF_PLUGIN_DIR={explicit} holds no registry.terraform.io/hashicorp/aws provider"
            )
        return path
    for candidate in PLUGIN_DIR_CANDIDATES:
        path = Path(candidate).expanduser()
        if _is_mirror(path):
            return path
    for root in MIRROR_SEARCH_ROOTS:
        found = _find_mirror(Path(root), MIRROR_SEARCH_DEPTH)
        if found is not None:
            return found
    return None


def _is_mirror(path: Path) -> bool:
    return (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir()


def _find_mirror(root: Path, depth: int) -> Path | None:
    """Breadth-first: the shallowest folder under `root` (itself included) that is a mirror."""
    level = [root]
    for _ in range(depth + 1):
        next_level = []
        for folder in sorted(level):
            if _is_mirror(folder):
                return folder
            try:
                next_level += [
                    child for child in folder.iterdir() if child.is_dir() and not child.is_symlink()
                ]
            except OSError:
                continue
        level = next_level
    return None


def terraform_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment terraform runs in: non-interactive, and blind to the user's AWS setup.

    AWS credential and profile variables are dropped so that a run meant for the
    emulator can never fall back to a real account. A TF_CLI_CONFIG_FILE naming a
    missing file is dropped too (terraform would only warn about it on every call).
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not (key.startswith("AWS_") and key != "AWS_CA_BUNDLE")
    }
    cli_config = env.get("TF_CLI_CONFIG_FILE")
    if cli_config and not Path(cli_config).expanduser().is_file():
        del env["TF_CLI_CONFIG_FILE"]
    env.update(
        {
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    if extra:
        env.update(extra)
    return env


def terraform(
    root: str | Path,
    *args: str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real terraform binary in `root` and capture its output.

    `terraform(root, "init")` adds `-plugin-dir` of the provider mirror when there
    is one (offline; init links the provider instead of copying it). With `check`,
    a non-zero exit raises TerraformError carrying stderr. On an interrupt (or any
    other error) terraform is asked to stop, then killed, and the error propagates:
    no terraform or provider process outlives the call.
    """
    root = Path(root)
    if not root.is_dir():
        raise SandboxError(f"no Terraform root at {root}")
    argv = list(args)
    if argv and argv[0] == "init":
        argv[1:1] = ["-input=false", "-no-color"]
        plugin_dir = find_plugin_dir()
        if plugin_dir is not None and not any(a.startswith("-plugin-dir") for a in argv):
            argv.insert(1, f"-plugin-dir={plugin_dir}")
    elif argv and argv[0] in {"plan", "apply", "destroy", "show", "validate", "output", "refresh"}:
        argv.insert(1, "-no-color")
    # Output goes to files, not pipes: nothing can block on a full pipe, and what terraform
    # printed before an interrupt or a timeout is still there to show. terraform runs in a
    # session of its own, so a Ctrl-C reaches it once, forwarded from here (a second
    # interrupt would make it exit at once, without saving state).
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [find_terraform(), *argv],
            cwd=root,
            env=terraform_env(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            process.wait(timeout=timeout)
        except BaseException as error:
            _stop_process(process, signal.SIGINT, grace=60)
            error.add_note(f"terraform {' '.join(argv)} in {root} was stopped; it printed:")
            error.add_note(_tail(out) + _tail(err))
            raise
        stdout, stderr = _read(out), _read(err)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise TerraformError(argv, root, result.returncode, stdout, stderr)
    return result


def _read(stream: Any) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace")


def _tail(stream: Any, size: int = 6000) -> str:
    return _read(stream)[-size:]


def _stop_process(process: subprocess.Popen[Any], first: int, grace: float) -> None:
    """Ask politely (`first` signal: terraform then stops its providers), then kill; always reap.

    A timeout of the grace period, or another Ctrl-C while waiting, kills at once.
    """
    if process.poll() is not None:
        return
    try:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(first)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill(process)
    except BaseException:
        _kill(process)
        raise


def _kill(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


# --- the emulator ------------------------------------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# Runs the emulator's entry point (a module or a script) after asking Linux to send it
# SIGTERM when the thread that started it ends, even by SIGKILL: a killed demo or test
# run leaves no server behind. Elsewhere (no prctl) it just runs the entry point.
_BOOT = """
import ctypes, os, runpy, signal, sys
parent = int(sys.argv.pop(1))
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != parent:
    sys.exit("bluegreen emulator: the process that started it is gone")
target = sys.argv.pop(1)
sys.argv[0] = target
if target.endswith(".py"):
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


class Emulator:
    """moto in server mode on a free port of 127.0.0.1, as a context manager.

    with Emulator() as emulator:
        ... emulator.endpoint ...   # http://127.0.0.1:PORT

    The server always stops when the block ends, on errors and on Ctrl-C too; on
    Linux it also dies with the Python process that started it, should that one be
    killed outright. The server's request log goes to `log_path` when given (see
    log_text() otherwise). `patched=True` starts it through
    bluegreen.emulator.moto_patches, which first patches the gaps of moto that
    `terraform apply` and deploy/execute.sh run into; pass `launcher=` to use
    another such script or module.
    """

    def __init__(
        self,
        *,
        patched: bool = False,
        launcher: str | Path | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        log_path: str | Path | None = None,
        detached: bool = False,
    ) -> None:
        self.detached = detached
        self.log_path = Path(log_path) if log_path else None
        self.patched = patched or launcher is not None
        self.launcher = Path(launcher) if launcher else None
        self.host = host
        self.startup_timeout = startup_timeout
        self.extra_env = dict(env or {})
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def endpoint(self) -> str:
        if self.port is None or self.process is None:
            raise SandboxError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    def _command(self, port: int) -> list[str]:
        entry = str(self.launcher or PATCHED_SERVER) if self.patched else "moto.server"
        if self.detached:  # meant to outlive this process (`bluegreen demo --keep`): no death signal
            return [sys.executable, "-m", entry, "-H", self.host, "-p", str(port)]
        return [sys.executable, "-c", _BOOT, str(os.getpid()), entry, "-H", self.host, "-p", str(port)]

    def detach(self) -> int:
        """Leave a `detached=True` server running after this process; returns its pid, the id of
        its process group too (stop_detached stops it)."""
        if not self.detached or self.process is None:
            raise SandboxError("only a running Emulator(detached=True) can be left running")
        pid = self.process.pid
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return pid

    def start(self) -> Emulator:
        if self.process is not None:
            return self
        import importlib.util

        if not all(importlib.util.find_spec(name) for name in ("moto", "flask", "boto3")):
            raise SandboxError(
                "the local AWS emulator needs moto in server mode: pip install 'moto[server]>=5.1'"
            )
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        # Accounts follow the access key of each request (see credentials_for_account).
        env.pop("MOTO_ACCOUNT_ID", None)
        env.update(EMULATOR_ENV)
        env.update(self.extra_env)
        if self.log_path:
            self._log = open(self.log_path, "w+b")  # noqa: SIM115 - closed in stop()
        else:
            self._log = tempfile.TemporaryFile(prefix="moto-server-")  # noqa: SIM115 - closed in stop()
        try:
            for _attempt in range(3):
                port = _free_port(self.host)
                self.process = subprocess.Popen(
                    self._command(port),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                self.port = port
                if self._wait_ready():
                    return self
                self._stop_child()  # lost the port race, or failed: try a fresh port
            raise SandboxError(f"the emulator did not start; its output:\n{self.log_text()}")
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://{self.host}:{self.port}/moto-api/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.1)
        return False

    def log_text(self) -> str:
        """What the server printed so far (its request log and any traceback)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        self._log.seek(0, os.SEEK_END)
        return text

    def _stop_child(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after 10 s or on another Ctrl-C; reap."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
        except BaseException as error:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if not isinstance(error, subprocess.TimeoutExpired):
                raise

    def stop(self) -> None:
        """Stop the server (its whole process group) and wait for it; safe to call twice."""
        try:
            self._stop_child()
        finally:
            self.port = None
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def is_emulator_process(pid: int) -> bool:
    """Whether `pid` is a server Emulator started (its command line names moto's or our entry)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part in (PATCHED_SERVER.encode(), b"moto.server") for part in command)


def stop_detached(pid: int, grace: float = 10.0) -> bool:
    """Stop the detached server `pid` (its process group); False when no such server runs.

    Checks first that `pid` is an emulator, so a stale pid never kills another process.
    """
    if not is_emulator_process(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and is_emulator_process(pid):
        time.sleep(0.1)
    if is_emulator_process(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def is_answering(endpoint: str) -> bool:
    """Whether an emulator answers at `endpoint`."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


# --- credentials and seeding -------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    account_id: str


def client(
    service: str, endpoint: str, region: str, credentials: Credentials | None = None, **kwargs: Any
) -> Any:
    """A boto3 client of the emulator, signed with `credentials` (moto's default account when None)."""
    import boto3
    from botocore.config import Config

    credentials = credentials or Credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, EMULATOR_ACCOUNT_ID)
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        config=Config(retries={"max_attempts": 2}),
        **kwargs,
    )


def credentials_for_account(endpoint: str, account_id: str | None) -> Credentials:
    """Credentials the emulator attributes to `account_id` (moto's default account when None).

    moto picks the account of a request by its access key: an access key of an IAM
    user of account A puts the request in account A. So for another account the
    emulator mints a user and key there (idempotently), and the provider's
    `allowed_account_ids` check sees the account the spec names, as it would in AWS.
    """
    if account_id in (None, EMULATOR_ACCOUNT_ID):
        return Credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, EMULATOR_ACCOUNT_ID)
    iam = client("iam", endpoint, "us-east-1")

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    iam.meta.events.register("before-send.iam.*", in_account)
    user, secret_tag = "bluegreen-emulator", "bluegreen-emulator-secret"
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=user)
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    # A secret is shown once, at creation: the emulator's user keeps it in a tag for later calls.
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
    if keys and secret_tag in tags:
        return Credentials(keys[0]["AccessKeyId"], tags[secret_tag], account_id)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.tag_user(UserName=user, Tags=[{"Key": secret_tag, "Value": key["SecretAccessKey"]}])
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"], account_id)


@dataclass
class NetworkSeed:
    """What seed_network created or found, by id."""

    vpc_id: str
    vpc_cidr: str
    private_subnet_ids: list[str]
    public_subnet_ids: list[str]
    internet_gateway_id: str | None
    zone_ids: dict[str, str] = field(default_factory=dict)


def seed_network(  # noqa: PLR0917 - endpoint, region, then the network convention, in that order
    endpoint: str,
    region: str,
    vpc_tag_key: str | None = "BlueGreenDemo",
    private_tags: Mapping[str, str] | None = None,
    public_tags: Mapping[str, str] | None = None,
    zones: Iterable[str] = (),
    *,
    vpc_id: str | None = None,
    credentials: Credentials | None = None,
) -> NetworkSeed:
    """The network convention of the spec, in the emulator: idempotent.

    A VPC carrying the tag key `vpc_tag_key` (or with the id `vpc_id`), two private
    and two public subnets in two zones of `region` carrying the given tags, an
    internet gateway with a public route table, and a public hosted zone per name in
    `zones`. What already exists is reused, so seeding twice (two environments
    sharing a region and account) leaves one VPC for the tag-key lookup to find.

    moto cannot create a VPC with a chosen id, so `vpc_id` needs the patched emulator
    (Emulator(patched=True)), which honours moto's `_custom_id_` tag for VPCs too.
    """
    private_tags = dict(private_tags if private_tags is not None else {"Type": "Private"})
    public_tags = dict(public_tags if public_tags is not None else {"Type": "Public"})
    ec2 = client("ec2", endpoint, region, credentials)
    vpc = _find_or_create_vpc(ec2, vpc_tag_key, vpc_id)
    two_zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    network = ipaddress.ip_network(vpc["CidrBlock"])
    taken = [ipaddress.ip_network(s["CidrBlock"]) for s in subnets]
    free = (n for n in network.subnets(new_prefix=24) if not any(n.overlaps(t) for t in taken))

    def ensure_subnets(tags: dict[str, str]) -> list[str]:
        found = [s["SubnetId"] for s in subnets if tags.items() <= _tags(s).items()]
        if len(found) >= 2:
            return found
        return [
            ec2.create_subnet(
                VpcId=vpc["VpcId"],
                CidrBlock=str(next(free)),
                AvailabilityZone=zone,
                TagSpecifications=[_tag_spec("subnet", tags)],
            )["Subnet"]["SubnetId"]
            for zone in two_zones
        ]

    private_ids = ensure_subnets(private_tags)
    public_ids = ensure_subnets(public_tags)
    gateway_id = _ensure_internet_gateway(ec2, vpc["VpcId"], public_ids)
    zone_ids = {name: seed_hosted_zone(endpoint, name, credentials) for name in zones}
    return NetworkSeed(vpc["VpcId"], vpc["CidrBlock"], private_ids, public_ids, gateway_id, zone_ids)


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def _tag_spec(resource_type: str, tags: Mapping[str, str]) -> dict[str, Any]:
    return {"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def _find_or_create_vpc(ec2: Any, vpc_tag_key: str | None, vpc_id: str | None) -> dict[str, Any]:
    if vpc_id:
        from botocore.exceptions import ClientError

        with contextlib.suppress(ClientError):
            return ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
        tags = {"Name": "bluegreen-emulator", "_custom_id_": vpc_id}
    else:
        if not vpc_tag_key:
            raise SandboxError("seed_network needs a vpc_tag_key or a vpc_id")
        found = ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": [vpc_tag_key]}])["Vpcs"]
        if found:
            return found[0]
        tags = {"Name": "bluegreen-emulator", vpc_tag_key: "true"}
    taken = {v["CidrBlock"] for v in ec2.describe_vpcs()["Vpcs"]}
    second = next(n for n in range(10, 250) if f"10.{n}.0.0/16" not in taken)
    vpc = ec2.create_vpc(CidrBlock=f"10.{second}.0.0/16", TagSpecifications=[_tag_spec("vpc", tags)])["Vpc"]
    if vpc_id and vpc["VpcId"] != vpc_id:
        ec2.delete_vpc(VpcId=vpc["VpcId"])
        raise SandboxError(
            f"the emulator cannot create a VPC with the id {vpc_id} the spec names: moto picks VPC ids "
            "itself; the patched emulator (Emulator(patched=True), bluegreen.emulator.moto_patches) can"
        )
    return vpc


def _ensure_internet_gateway(ec2: Any, vpc_id: str, public_subnet_ids: Sequence[str]) -> str:
    attached = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
    if attached["InternetGateways"]:
        return attached["InternetGateways"][0]["InternetGatewayId"]
    gateway_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway_id)
    for subnet_id in public_subnet_ids:
        ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    return gateway_id


def seed_hosted_zone(endpoint: str, name: str, credentials: Credentials | None = None) -> str:
    """A public hosted zone for `name`; the existing one when there is one. Returns its id."""
    route53 = client("route53", endpoint, "us-east-1", credentials)
    wanted = name.rstrip(".") + "."
    for zone in route53.list_hosted_zones_by_name(DNSName=wanted)["HostedZones"]:
        if zone["Name"] == wanted and not zone["Config"].get("PrivateZone"):
            return zone["Id"].rsplit("/", 1)[-1]
    zone = route53.create_hosted_zone(
        Name=wanted,
        CallerReference=f"bluegreen-{wanted}-{time.time_ns()}",
        HostedZoneConfig={"Comment": "bluegreen emulator", "PrivateZone": False},
    )["HostedZone"]
    return zone["Id"].rsplit("/", 1)[-1]


def seed_environment(endpoint: str, env: Environment) -> NetworkSeed:
    """Seed what one environment of the model looks up: its network and its DNS zone."""
    credentials = credentials_for_account(endpoint, env.account_id)
    return seed_network(
        endpoint,
        env.region,
        vpc_tag_key=env.vpc_tag_key,
        private_tags=env.private_subnet_tags,
        public_tags=env.public_subnet_tags,
        zones=[env.dns.zone] if env.dns else [],
        vpc_id=env.vpc_id,
        credentials=credentials,
    )


def seed_model(endpoint: str, model: ServiceModel) -> dict[str, NetworkSeed]:
    """Seed every environment of a service; environments sharing an account and region share a VPC."""
    return {env.name: seed_environment(endpoint, env) for env in model.environments}


# --- the override file -------------------------------------------------------------------


def _root_files(root: Path) -> list[dict[str, Any]]:
    """A root's own .tf files (its override files aside), parsed with python-hcl2."""
    try:
        import hcl2
        from lark.exceptions import LarkError
    except ImportError as error:
        raise SandboxError(
            "the emulator's override file reads HCL with python-hcl2: pip install 'python-hcl2>=8.1'"
        ) from error

    options = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    parsed = []
    for path in sorted(root.glob("*.tf")):
        if path.name.endswith("_override.tf") or path.name == "override.tf":
            continue
        try:
            parsed.append(hcl2.loads(path.read_text(), serialization_options=options))
        except LarkError as error:
            raise SandboxError(f"{path}: not valid HCL: {error}") from error
    return parsed


def _provider_aliases(files: list[dict[str, Any]]) -> list[str | None]:
    """The `provider "aws"` blocks of a root's files: None for the default, else the alias."""
    return [
        block["aws"].get("alias") for file in files for block in file.get("provider", []) if "aws" in block
    ]


def _root_backend(files: list[dict[str, Any]]) -> str | None:
    """The type of the root's `backend "TYPE"` block, if it has one."""
    for file in files:
        for settings in file.get("terraform", []):
            for backend in settings.get("backend", []):
                return next(iter(backend))
    return None


def provider_override_text(
    endpoint: str,
    region: str,
    *,
    aliases: Sequence[str | None] = (None,),
    credentials: Credentials | None = None,
    local_backend: bool = False,
    environment_credentials: bool = False,
) -> str:
    """The HCL of emulator_override.tf (see write_provider_override).

    With `environment_credentials` the provider takes its keys from the process
    environment (AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN, ...), as in CI after the
    deploy role was assumed, instead of the fixed keys of `credentials`.
    """
    credentials = credentials or Credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, EMULATOR_ACCOUNT_ID)
    width = max(len(name) for name in ENDPOINT_SERVICES)
    endpoints = "\n".join(f'    {name.ljust(width)} = "{endpoint}"' for name in ENDPOINT_SERVICES)
    lines = [
        "# Written by bluegreen's emulator sandbox (bluegreen.emulator.sandbox): points the AWS provider",
        "# at a local emulator. Not part of the generated repo: delete it to plan against AWS.",
    ]
    if local_backend:
        lines += ["terraform {", '  backend "local" {}', "}", ""]
    for alias in aliases:
        lines.append('provider "aws" {')
        if alias:
            # An aliased provider keeps its own region (say us-east-1 for CloudFront certificates).
            lines.append(f'  alias                       = "{alias}"')
        else:
            lines.append(f'  region                      = "{region}"')
        if not environment_credentials:
            lines += [
                f'  access_key                  = "{credentials.access_key}"',
                f'  secret_key                  = "{credentials.secret_key}"',
            ]
        lines += [
            "  skip_credentials_validation = true",
            "  skip_metadata_api_check     = true",
            "  skip_region_validation      = true",
            "  skip_requesting_account_id  = false",
            "  s3_use_path_style           = true",
            "",
            "  endpoints {",
            endpoints,
            "  }",
            "}",
            "",
        ]
    return "\n".join(lines)


def write_provider_override(
    root_dir: str | Path,
    endpoint: str,
    region: str,
    *,
    credentials: Credentials | None = None,
) -> Path:
    """Write `emulator_override.tf` into an environment root; returns its path.

    An override file merges into the generated configuration argument by argument,
    so the generated providers.tf stays untouched:
    - every `provider "aws"` block of the root (the default one and each alias) gets
      the emulator's endpoints for every service the stack uses, credentials the
      emulator attributes to the environment's account, and the skip_* switches that keep the provider from
      calling real AWS (credential validation, instance metadata, region list);
    - `skip_requesting_account_id` stays false: the provider asks the emulator's STS
      who it is, so `allowed_account_ids` of the generated providers.tf is checked
      for real (credentials_for_account gives keys of the spec's account), and ARNs
      built from the account id are right. Skipping it would leave the account id
      empty and make every allowed_account_ids check fail ("not allowed: ");
    - region is the environment's (the root sets the same; aliases keep theirs);
    - default_tags and allowed_account_ids of the generated block stay as they are;
    - when the root has a backend (the S3 one of a spec with `state:`), a
      `backend "local"` override replaces it, so state stays in the root directory.
    """
    root = Path(root_dir)
    files = _root_files(root)
    aliases = _provider_aliases(files)
    if None not in aliases:
        raise SandboxError(
            f'{root}: no `provider "aws"` block to override; the generated providers.tf should have one'
        )
    backend = _root_backend(files)
    text = provider_override_text(
        endpoint,
        region,
        aliases=aliases,
        credentials=credentials,
        local_backend=backend is not None and backend != "local",
    )
    path = root / OVERRIDE_FILE
    path.write_text(text)
    return path


# --- plan and demo -----------------------------------------------------------------------


def environment_root(repo_dir: str | Path, env_name: str) -> Path:
    return Path(repo_dir) / "deploy" / "terraform" / "environments" / env_name


def prepare_environment(repo_dir: str | Path, env: Environment, endpoint: str) -> Path:
    """Write the override for one environment of a rendered repo and `terraform init` it."""
    root = environment_root(repo_dir, env.name)
    if not root.is_dir():
        raise SandboxError(f"{repo_dir}: no Terraform root for environment {env.name!r} at {root}")
    credentials = credentials_for_account(endpoint, env.account_id)
    write_provider_override(root, endpoint, env.region, credentials=credentials)
    terraform(root, "init", "-reconfigure")
    return root


def plan_environment(repo_dir: str | Path, env: Environment, endpoint: str) -> dict[str, Any]:
    """init + plan -out + `terraform show -json`: the plan JSON of one environment.

    The emulator must already be seeded (seed_environment); the override file is
    written here.
    """
    root = prepare_environment(repo_dir, env, endpoint)
    terraform(root, "plan", "-input=false", "-lock=false", "-out=emulator.tfplan")
    shown = terraform(root, "show", "-json", "emulator.tfplan")
    return json.loads(shown.stdout)


def planned_changes(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The managed-resource changes of a plan JSON."""
    return [c for c in plan.get("resource_changes", []) if c.get("mode") == "managed"]


def plan_summary(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Counts of a plan JSON: actions like terraform's "Plan:" line, and resources to add by type."""
    actions: collections.Counter[str] = collections.Counter()
    by_type: collections.Counter[str] = collections.Counter()
    for change in planned_changes(plan):
        acts = change["change"]["actions"]
        if acts == ["create"]:
            actions["add"] += 1
            by_type[change["type"]] += 1
        elif acts == ["update"]:
            actions["change"] += 1
        elif acts == ["delete"]:
            actions["destroy"] += 1
        elif set(acts) == {"create", "delete"}:
            actions["add"] += 1
            actions["destroy"] += 1
    return {
        "add": actions["add"],
        "change": actions["change"],
        "destroy": actions["destroy"],
        "by_type": dict(sorted(by_type.items())),
    }


def format_summary(env_name: str, summary: Mapping[str, Any], seconds: float | None = None) -> str:
    timing = f" ({seconds:.1f} s)" if seconds is not None else ""
    lines = [
        f"environment {env_name}: Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['destroy']} to destroy.{timing}"
    ]
    lines += [f"  {count:3d}  {kind}" for kind, count in summary["by_type"].items()]
    return "\n".join(lines)
