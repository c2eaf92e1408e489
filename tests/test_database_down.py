"""The knowledge database going down during a conversation, and coming back."""
from __future__ import annotations

from sqlalchemy import create_engine

from assistant.knowledge.load import load_knowledge
from assistant.settings import load_contacts
from scripts.servers import serve_assistant
from tests.helpers import RED_FLAG, NurseApi, Phone, new_sender, turn


def test_answers_apologise_while_the_database_is_down_and_resume_when_it_is_back(tmp_path, postgres_server):
    load_knowledge(create_engine(postgres_server.url))
    nurse_phone = load_contacts().nurse_phone
    with serve_assistant(tmp_path, postgres_server.url) as assistant:
        sender = new_sender()
        _, custom, _ = turn(assistant, sender, "how long does kyphoplasty take?")
        assert custom["type"] == "answer"
        nurse = NurseApi(assistant, assistant.nurse_token)  # signed in while the database is up

        postgres_server.stop()
        texts, custom, _ = turn(assistant, sender, "does it hurt?")
        assert custom["type"] == "fallback"
        assert any("cannot look up that answer" in text and nurse_phone in text for text in texts)
        # The red-flag advice needs no database.
        texts, custom, _ = turn(assistant, new_sender(), RED_FLAG)
        assert (custom["type"], custom["urgency"]) == ("triage", "emergency")
        assert load_contacts().emergency_number in texts[0]
        assert nurse.post("/assess", {"text": "does it hurt?"}).status_code == 503
        assert nurse_phone in Phone(assistant).text("STOP")

        postgres_server.start()
        _, custom, _ = turn(assistant, sender, "does it hurt?")
        assert (custom["type"], custom["topic"], custom["procedure"]) == ("answer", "pain", "kyphoplasty")
