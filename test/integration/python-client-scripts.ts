/**
 * The Python scripts python-client.test.ts runs besides the README's
 * framework.py: each talks to a master the way a user's generated client
 * would and prints one JSON line per thing a user would see. They share
 * `common.py`.
 */

export const COMMON = `
import json, queue, sys

import grpc
from mesos.v1 import mesos_pb2 as v1
from mesos.v1.master import master_pb2 as master
from mesos.v1.scheduler.scheduler_pb2 import Call, Event
from mesos.v2 import mesos_pb2 as v2, mesos_pb2_grpc as v2_grpc

TIMEOUT = 30


def out(**fields):
    print(json.dumps(fields), flush=True)


def stub(target):
    return v2_grpc.MesosServiceStub(grpc.insecure_channel(target))


class Stream:
    """One Connect stream: calls go in through a queue (None closes our side), events come out.

    Without a deadline, as a framework holds its stream (the master carries plain
    gRPC streams itself, with or without one). The test bounds each script's time.
    """

    def __init__(self, connect, timeout=None):
        self.calls = queue.Queue()
        self.events = connect(iter(self.calls.get, None), timeout=timeout)

    def send(self, id, **call):
        self.calls.put(v2.ConnectRequest(id=id, **call))

    def close(self):
        self.calls.put(None)

    def drain(self):
        """Reads to the end: the kinds of the events left, and what the stream ended with."""
        kinds = []
        try:
            for response in self.events:
                kinds.append(response.WhichOneof("event"))
        except grpc.RpcError:
            pass
        return {"events": kinds, **status(self.events)}


def status(call):
    # A trailers-only answer's one HEADERS frame also holds HTTP's date, which grpcio counts as a trailer.
    return {"code": call.code().name, "details": call.details(),
            "trailers": {k: v for k, v in (call.trailing_metadata() or ()) if k != "date"}}


def error_of(response):
    e = response.error
    return {"call_id": response.call_id, "code": v2.Error.Code.Name(e.code), "message": e.message, "fatal": e.fatal}


def subscribe_call(name, framework_id=None):
    info = v1.FrameworkInfo(user="nobody", name=name)
    call = Call(type=Call.SUBSCRIBE)
    if framework_id is not None:
        # Resubscribing names the id twice, as in Mesos.
        info.id.value = framework_id
        call.framework_id.value = framework_id
    call.subscribe.framework_info.CopyFrom(info)
    return call
`;

/** Operate GET_HEALTH and GET_STATE, then an operator SUBSCRIBE on Connect that watches a framework come and go. */
export const OPERATOR = `
import sys
from common import *

api = stub(sys.argv[1])


def operate(call_type):
    return api.Operate(v2.OperateRequest(call=master.Call(type=call_type)), timeout=TIMEOUT).response


health = operate(master.Call.GET_HEALTH)
out(call="GET_HEALTH", type=master.Response.Type.Name(health.type), healthy=health.get_health.healthy)
state = operate(master.Call.GET_STATE).get_state
out(call="GET_STATE", agents=[{"hostname": a.agent_info.hostname,
                               "resources": sorted(r.name for r in a.total_resources)}
                              for a in state.get_agents.agents])

operator, frameworks, removed = Stream(api.Connect), {}, set()
operator.send("operator", operator=master.Call(type=master.Call.SUBSCRIBE))
seen = set()
for response in operator.events:
    if not response.HasField("operator_event"):
        out(unexpected=str(response))
        break
    event = response.operator_event
    kind = master.Event.Type.Name(event.type)
    first = kind not in seen
    seen.add(kind)
    if event.type == master.Event.SUBSCRIBED:
        out(event=kind, call_id=response.call_id, pieces=response.HasField("piece"),
            agents=len(event.subscribed.get_state.get_agents.agents),
            heartbeat_interval_seconds=event.subscribed.heartbeat_interval_seconds)
        # Frameworks the operator watches. Two on the same channel (one HTTP/2
        # connection): one has a deadline (grpc-timeout) and leaves by closing its
        # side; the other is cancelled (RST_STREAM), as a framework killed with
        # Ctrl-C. The third compresses its messages (gzip): connect-node's road.
        frameworks["closed-from-python"] = Stream(api.Connect, timeout=TIMEOUT)
        frameworks["cancelled-from-python"] = Stream(api.Connect)
        gzip = grpc.insecure_channel(sys.argv[1], compression=grpc.Compression.Gzip)
        frameworks["gzip-from-python"] = Stream(v2_grpc.MesosServiceStub(gzip).Connect)
        for name, stream in frameworks.items():
            stream.send("subscribe", scheduler=subscribe_call(name))
    elif event.type == master.Event.FRAMEWORK_ADDED:
        name = event.framework_added.framework.framework_info.name
        out(event=kind, name=name)
        if name == "cancelled-from-python":
            frameworks[name].events.cancel()
        else:
            frameworks[name].close()
    elif event.type == master.Event.FRAMEWORK_REMOVED:
        out(event=kind, name=event.framework_removed.framework_info.name)
        removed.add(event.framework_removed.framework_info.name)
    elif event.type == master.Event.HEARTBEAT and first:
        out(event=kind)
    if removed == set(frameworks) and "HEARTBEAT" in seen:
        operator.close()
out(end="operator", **status(operator.events))
for name, stream in frameworks.items():
    out(end=name, **stream.drain())
`;

/** Bytes that are no ConnectRequest, on Connect and on Operate, through grpcio's generic calls. */
export const MALFORMED = `
import sys
from common import *

channel = grpc.insecure_channel(sys.argv[1])
raw = dict(request_serializer=lambda b: b)
connect = channel.stream_stream("/mesos.v2.MesosService/Connect",
                                response_deserializer=v2.ConnectResponse.FromString, **raw)
garbage = Stream(connect)
garbage.calls.put(b"\\xff\\xff\\xff\\xff")  # a field tag with no end
errors = []
try:
    for response in garbage.events:
        errors.append(error_of(response) if response.HasField("error") else str(response))
except grpc.RpcError:
    pass
garbage.close()
out(case="garbage on Connect", events=errors, **status(garbage.events))

operate = channel.unary_unary("/mesos.v2.MesosService/Operate",
                              response_deserializer=v2.OperateResponse.FromString, **raw)
try:
    operate(b"\\xff\\xff\\xff\\xff", timeout=TIMEOUT)
    out(case="garbage on Operate", code="OK")
except grpc.RpcError as e:
    out(case="garbage on Operate", **status(e))

# Well-formed, but no call in it: the master's own validation answers.
empty = Stream(connect)
empty.calls.put(v2.ConnectRequest(id="nothing").SerializeToString())
response = next(empty.events)
out(case="no call", event=error_of(response) if response.HasField("error") else str(response))
empty.close()
out(case="no call", end=empty.drain())

# A stream closed before any call: it ends with OK and nothing else (trailers only).
nothing = Stream(connect)
nothing.close()
out(case="empty stream", end=nothing.drain())

unknown = channel.unary_unary("/mesos.v2.MesosService/NoSuchMethod", response_deserializer=lambda b: b, **raw)
try:
    unknown(b"", timeout=TIMEOUT)
    out(case="unknown method", code="OK")
except grpc.RpcError as e:
    out(case="unknown method", **status(e))
`;

/**
 * Non-ASCII text (and '%', which grpc-message percent-encodes) in a framework
 * id that comes back in an Operate status, a SUBSCRIBED event, an Error
 * event and the status a refused stream ends with.
 */
export const NON_ASCII = `
import sys
from common import *

api = stub(sys.argv[1])
framework_id = sys.argv[2]


def teardown():
    call = master.Call(type=master.Call.TEARDOWN, teardown=master.Call.Teardown(framework_id={"value": framework_id}))
    return api.Operate(v2.OperateRequest(call=call), timeout=TIMEOUT)


try:
    teardown()
    out(case="teardown of an unknown framework", code="OK")
except grpc.RpcError as e:
    out(case="teardown of an unknown framework", **status(e))

scheduler = Stream(api.Connect)
scheduler.send("subscribe", scheduler=subscribe_call("ünïcødé", framework_id))
subscribed = next(scheduler.events).scheduler.subscribed
out(case="subscribed", framework_id=subscribed.framework_id.value)
teardown()
out(case="torn down", end=scheduler.drain())

again = Stream(api.Connect)
again.send("subscribe-again", scheduler=subscribe_call("ünïcødé", framework_id))
events = []
try:
    for response in again.events:
        events.append(error_of(response) if response.HasField("error") else str(response))
except grpc.RpcError:
    pass
again.close()
out(case="subscribe with a removed id", events=events, **status(again.events))
`;

/** A standby master refuses the stream and the unary call with UNAVAILABLE, naming the leader. */
export const STANDBY = `
import sys
from common import *

api = stub(sys.argv[1])
scheduler = Stream(api.Connect)
scheduler.send("subscribe", scheduler=subscribe_call("at-the-standby"))
out(case="Connect", **scheduler.drain())
scheduler.close()
try:
    api.Operate(v2.OperateRequest(call=master.Call(type=master.Call.GET_HEALTH)), timeout=TIMEOUT)
    out(case="Operate", code="OK")
except grpc.RpcError as e:
    out(case="Operate", **status(e))
`;

/**
 * A large call and a large answer (over the server's 1 MiB stream window) on
 * Connect streams without a deadline, so both cross many HTTP/2 DATA frames
 * and flow-control windows: a framework subscribes with a large label, and
 * an operator reads it back.
 */
export const LARGE = `
import sys
from common import *

api = stub(sys.argv[1])
size = int(sys.argv[2])
scheduler = Stream(api.Connect)
call = subscribe_call("large-from-python")
call.subscribe.framework_info.labels.labels.add(key="payload", value="x" * size)
scheduler.send("subscribe", scheduler=call)
response = next(scheduler.events)
out(case="subscribe", call_id=response.call_id, event=response.WhichOneof("event"),
    type=Event.Type.Name(response.scheduler.type) if response.HasField("scheduler") else None)

# A one-shot iterator: the client half-closes right after its call, and still gets the answer.
answers = api.Connect(iter([v2.ConnectRequest(id="frameworks", operator=master.Call(type=master.Call.GET_FRAMEWORKS))]))
for response in answers:
    frameworks = response.operator_response.get_frameworks.frameworks
    out(case="GET_FRAMEWORKS", call_id=response.call_id, piece=response.HasField("piece"),
        labels={f.framework_info.name: [len(l.value) for l in f.framework_info.labels.labels] for f in frameworks})
out(case="GET_FRAMEWORKS", end=status(answers))
scheduler.close()
out(case="subscribe", end=scheduler.drain())
`;
