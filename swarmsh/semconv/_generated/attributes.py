"""Attribute, span and metric names of the swarmsh semantic conventions.

Generated from semconv_registry/ by `python -m swarmsh.semconv.generate`: do not edit.
"""

# Attributes
LEAN_IMPROVEMENTS = "lean.improvements"
LEAN_METRICS = "lean.metrics"
LEAN_PHASE = "lean.phase"
LEAN_PILOT_SUCCESS = "lean.pilot.success"
LEAN_PROBLEM_STATEMENT = "lean.problem_statement"
LEAN_PROCESS_CHANGES = "lean.process_changes"
LEAN_PROJECT_ID = "lean.project_id"
LEAN_ROOT_CAUSES = "lean.root_causes"
LEAN_SAVINGS = "lean.savings"
LEAN_SPONSOR = "lean.sponsor"
PROCESS_COMMAND = "process.command"
PROCESS_COMMAND_ARGS = "process.command_args"
PROCESS_EXECUTABLE_NAME = "process.executable.name"
PROCESS_EXIT_CODE = "process.exit.code"
PROCESS_PID = "process.pid"
RECEIVER = "receiver"
ROBERTS_MEETING_ID = "roberts.meeting_id"
ROBERTS_MOTION_KIND = "roberts.motion.kind"
ROBERTS_MOTION_TEXT = "roberts.motion.text"
ROBERTS_MOTION_ID = "roberts.motion_id"
ROBERTS_RESULT = "roberts.result"
ROBERTS_THRESHOLD = "roberts.threshold"
ROBERTS_VOTES_ABSTAIN = "roberts.votes.abstain"
ROBERTS_VOTES_NO = "roberts.votes.no"
ROBERTS_VOTES_YES = "roberts.votes.yes"
ROBERTS_VOTING_METHOD = "roberts.voting_method"
SCRUM_BLOCKERS = "scrum.blockers"
SCRUM_CAPACITY = "scrum.capacity"
SCRUM_CUSTOMER_SATISFACTION = "scrum.customer_satisfaction"
SCRUM_DEFECT_RATE = "scrum.defect_rate"
SCRUM_IMPROVEMENTS = "scrum.improvements"
SCRUM_SPRINT_NUMBER = "scrum.sprint_number"
SCRUM_TEAM_ID = "scrum.team_id"
SCRUM_VELOCITY = "scrum.velocity"
SWARM_AGENT = "swarm.agent"
SWARM_BUS_READER = "swarm.bus.reader"
SWARM_COMMAND = "swarm.command"
SWARM_COMMAND_ATTEMPT = "swarm.command.attempt"
SWARM_COMMAND_ID = "swarm.command.id"
SWARM_COMMAND_OUTCOME = "swarm.command.outcome"
SWARM_LOOP_DEPTH = "swarm.loop.depth"
SWARM_REJECTION_REASON = "swarm.rejection.reason"
SWARM_RULE_COUNT = "swarm.rule.count"
SWARM_RULE_GROUP = "swarm.rule.group"
SWARM_RULE_NAME = "swarm.rule.name"
SWARM_RULE_OUTCOME = "swarm.rule.outcome"
SWARM_RUN_SIGNAL = "swarm.run.signal"
SWARM_SPAN_NAME = "swarm.span.name"
SWARM_STATE_FROM = "swarm.state.from"
SWARM_STATE_TO = "swarm.state.to"
SWARM_TRIGGER = "swarm.trigger"
TRANSPORT = "transport"

# Span names
SPAN_SWARM_LOOP_ITERATION = "swarm.loop.iteration"
SPAN_SWARMSH_COMMAND_EXECUTE = "swarmsh.command.execute"
SPAN_SWARMSH_COMMAND_REJECTED = "swarmsh.command.rejected"
SPAN_SWARMSH_LEAN_ANALYZE = "swarmsh.lean.analyze"
SPAN_SWARMSH_LEAN_CONTROL = "swarmsh.lean.control"
SPAN_SWARMSH_LEAN_DEFINE = "swarmsh.lean.define"
SPAN_SWARMSH_LEAN_IMPROVE = "swarmsh.lean.improve"
SPAN_SWARMSH_LEAN_MEASURE = "swarmsh.lean.measure"
SPAN_SWARMSH_ROBERTS_ADJOURN = "swarmsh.roberts.adjourn"
SPAN_SWARMSH_ROBERTS_CALL_TO_ORDER = "swarmsh.roberts.call-to-order"
SPAN_SWARMSH_ROBERTS_CLOSE = "swarmsh.roberts.close"
SPAN_SWARMSH_ROBERTS_OPEN = "swarmsh.roberts.open"
SPAN_SWARMSH_ROBERTS_SECOND = "swarmsh.roberts.second"
SPAN_SWARMSH_ROBERTS_VOTE = "swarmsh.roberts.vote"
SPAN_SWARMSH_RUN = "swarmsh.run"
SPAN_SWARMSH_SCRUM_DAILY = "swarmsh.scrum.daily"
SPAN_SWARMSH_SCRUM_PLAN = "swarmsh.scrum.plan"
SPAN_SWARMSH_SCRUM_RETRO = "swarmsh.scrum.retro"
SPAN_SWARMSH_SCRUM_REVIEW = "swarmsh.scrum.review"

# Metric names
METRIC_HTTP_SERVER_REQUEST_DURATION = "http.server.request.duration"
METRIC_OTELCOL_RECEIVER_ACCEPTED_SPANS = "otelcol_receiver_accepted_spans"
METRIC_OTELCOL_RECEIVER_FAILED_SPANS = "otelcol_receiver_failed_spans"
METRIC_OTELCOL_RECEIVER_REFUSED_SPANS = "otelcol_receiver_refused_spans"
METRIC_RPC_SERVER_CALL_DURATION = "rpc.server.call.duration"
METRIC_SWARM_AGENT_TRANSITIONS = "swarm.agent.transitions"
METRIC_SWARM_BUS_MALFORMED = "swarm.bus.malformed"
METRIC_SWARM_COMMANDS_TOTAL = "swarm.commands.total"
METRIC_SWARM_LOOP_DURATION = "swarm.loop.duration"
METRIC_SWARM_RULE_MATCHES = "swarm.rule.matches"
METRIC_SWARM_SPANS_TOTAL = "swarm.spans.total"


class LeanPhaseValues:
    """Values of `lean.phase`."""

    DEFINE = "define"
    MEASURE = "measure"
    ANALYZE = "analyze"
    IMPROVE = "improve"
    CONTROL = "control"


class RobertsMotionKindValues:
    """Values of `roberts.motion.kind`."""

    GENERAL = "general"
    SPRINT = "sprint"
    PROCESS_CHANGE = "process-change"


class RobertsResultValues:
    """Values of `roberts.result`."""

    PASSED = "passed"
    FAILED = "failed"


class RobertsThresholdValues:
    """Values of `roberts.threshold`."""

    MAJORITY = "majority"
    TWO_THIRDS = "two-thirds"


class RobertsVotingMethodValues:
    """Values of `roberts.voting_method`."""

    VOICE = "voice"
    BALLOT = "ballot"
    ROLL_CALL = "roll-call"
    SHOW_OF_HANDS = "show-of-hands"


class SwarmCommandOutcomeValues:
    """Values of `swarm.command.outcome`."""

    EXECUTED = "executed"
    FAILED = "failed"
    REFUSED = "refused"
    DEADLETTERED = "deadlettered"
    DUPLICATE = "duplicate"


class SwarmRuleOutcomeValues:
    """Values of `swarm.rule.outcome`."""

    ADVANCED = "advanced"
    THROTTLED = "throttled"


class TransportValues:
    """Values of `transport`."""

    GRPC = "grpc"
    HTTP = "http"
