"""The model's work in a turn, NLU and the policies, off the Rasa server's event loop.

Rasa's MessageProcessor (rasa 3.6.21) runs the trained graph synchronously inside the
event loop, twice or more a turn (parse the message, then predict each next action). In
asyncio's debug mode every turn showed it: one step of 0.19 to 0.8 s on the 2-core test
machine under load, during which no other conversation, health check or turn deadline (the
red flag's advice within 2 s) was served. The two methods below are Rasa's, except that the
graph runs on threads of its own: the NLU part on one, the dialogue part on another. The
two parts share only the node that hands out the domain, and each runs one call at a time,
as on the loop, so no component sees new concurrency; the loop stays free meanwhile. Two
threads rather than one: a message is parsed as it arrives (addons/turn_order.py),
without waiting for another turn's prediction.

What changes under overload: a turn waits for the model inside its deadline, where it
used to wait unread in the socket while the loop was busy. 50 senders on two replicas of
the busy 2-core test machine: with the model on the loop, every turn answered, after
5.7 s on average (50 senders / 8.7 turns a second), none apologised for; off the loop,
more turns a second, and those past TURN_REPLY_DEADLINE get the apology in time.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.exceptions import ActionLimitReached
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)
rasa_parse_message = MessageProcessor.parse_message
NLU_THREAD = ThreadPoolExecutor(1, thread_name_prefix="nlu")
DIALOGUE_THREAD = ThreadPoolExecutor(1, thread_name_prefix="dialogue")


async def in_thread(thread: ThreadPoolExecutor, function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(thread, function, *args)


async def parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: Optional[DialogueStateTracker] = None,
    only_output_properties: bool = True,
) -> Dict[str, Any]:
    """MessageProcessor.parse_message, the NLU graph in its thread."""
    if self.http_interpreter:  # NLU in another server: Rasa already awaits it
        return await rasa_parse_message(self, message, tracker, only_output_properties)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
    parse_data = await in_thread(NLU_THREAD, self._parse_message_with_graph, message, tracker, only_output_properties)
    self._update_full_retrieval_intent(parse_data)
    self._check_for_unseen_features(parse_data)
    return parse_data


async def run_prediction_loop(self: MessageProcessor, output_channel: OutputChannel,
                              tracker: DialogueStateTracker) -> None:
    """MessageProcessor._run_prediction_loop, each prediction in the dialogue thread."""
    should_predict_another_action = True
    while should_predict_another_action and self._should_handle_message(tracker):
        try:
            action, prediction = await in_thread(DIALOGUE_THREAD, self.predict_next_with_tracker_if_should, tracker)
        except ActionLimitReached:
            logger.warning("Circuit breaker tripped: stopped predicting more actions.")
            if self.on_circuit_break:
                self.on_circuit_break(tracker, output_channel, self.nlg)
            break
        if prediction.is_end_to_end_prediction:
            tracker = await self.run_action_extract_slots(output_channel, tracker)
        should_predict_another_action = await self._run_action(
            action, tracker, output_channel, self.nlg, prediction
        )


def run_model_off_the_loop() -> None:
    # A model thread gives up the GIL at each NumPy call and waits up to the switch
    # interval to get it back while the loop runs: 1 ms instead of Python's 5 ms took the
    # turns past the reply deadline from 334 of 354 to 230 of 403 (production test, 50
    # senders on 2 replicas, 2 busy cores). Serving the earliest turn's work first did not
    # help (343 of 350 before it).
    sys.setswitchinterval(0.001)
    MessageProcessor.parse_message = parse_message
    MessageProcessor._run_prediction_loop = run_prediction_loop
