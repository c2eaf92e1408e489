"""Extensions loaded by the Rasa server itself (not the action server).

Rasa imports this package (for the pipeline components, the response generator
or the tracker store) after it has set up logging, so this is where the
server's log is made to leave patient text out, where the check of the action
server's replies is made cheap, where calls to the action server get their bound and
kept connections,
where the model's work in a turn moves off the event loop, and where a turn parses its
message while it waits for its conversation.
"""
from addons.action_responses import validate_action_responses_once
from addons.action_timeout import bound_action_server_calls, keep_action_server_connections
from addons.log_privacy import keep_patient_text_out_of_logs
from addons.off_loop_graph import run_model_off_the_loop
from addons.turn_order import parse_while_waiting

keep_patient_text_out_of_logs()
validate_action_responses_once()
bound_action_server_calls()
keep_action_server_connections()
run_model_off_the_loop()
parse_while_waiting()
