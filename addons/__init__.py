"""Extensions loaded by the Rasa server itself (not the action server).

Rasa imports this package (for the pipeline components, the response generator
or the tracker store) after it has set up logging, so this is where the
server's log is made to leave patient text out.
"""
from addons.log_privacy import keep_patient_text_out_of_logs

keep_patient_text_out_of_logs()
