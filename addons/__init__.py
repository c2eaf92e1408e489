"""Extensions loaded by the Rasa server itself (not the action server).

Rasa imports this package (for the pipeline components, the response generator
or the tracker store) after it has set up logging, so this is where the
server's log is made to leave patient text out, and where the check of the action
server's replies is made cheap.
"""
from addons.action_responses import validate_action_responses_once
from addons.log_privacy import keep_patient_text_out_of_logs

keep_patient_text_out_of_logs()
validate_action_responses_once()
