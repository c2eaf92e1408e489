"""Extensions loaded by the Rasa server itself (not the action server).

Rasa imports this package (for the pipeline components, the response generator or the
tracker store) after it has set up logging, so this is where:
- large freed buffers are made to go back to the system (assistant/memory.py);
- the server's log is made to leave patient text out;
- the check of the action server's replies is made cheap;
- calls to the action server get their bound and kept connections;
- the model's work in a turn moves off the event loop;
- a turn parses its message while it waits for its conversation.
"""
from addons.action_responses import validate_action_responses_once
from addons.action_server_calls import bound_action_server_calls, keep_action_server_connections
from addons.log_privacy import keep_patient_text_out_of_logs
from addons.off_loop_graph import run_model_off_the_loop
from addons.turn_order import parse_while_waiting
from assistant.memory import return_large_buffers

return_large_buffers()
keep_patient_text_out_of_logs()
validate_action_responses_once()
bound_action_server_calls()
keep_action_server_connections()
run_model_off_the_loop()
parse_while_waiting()
