"""The speech model: found, loaded once, or disabled with a reason a person can act on."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from hotline.config import Config
from telephony.speech.engine import SpeechDisabled, SpeechEngine, check_model_dir, load_model, transcribe_wav
from telephony.speech.cli import speech_group
from tests.speech_helpers import audio_path, test_model_dir


def _fake_model(root, *, graph=True) -> str:
    for rel in ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf") + (("graph/HCLG.fst",) if graph else ()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("junk\n")
    return str(root)


def test_reasons_for_unusable_directories(tmp_path):
    assert check_model_dir("") == "VOSK_MODEL_DIR is not set"
    assert check_model_dir(None) == "VOSK_MODEL_DIR is not set"
    assert check_model_dir(str(tmp_path / "nope")) == f"model directory {tmp_path / 'nope'} not found"
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in check_model_dir(str(tmp_path / "file"))
    empty = tmp_path / "empty"
    empty.mkdir()
    reason = check_model_dir(str(empty))
    assert reason.startswith("not a vosk model:")
    assert "am/final.mdl" in reason and "conf/model.conf" in reason and "graph/HCLG.fst" in reason
    no_graph = _fake_model(tmp_path / "nograph", graph=False)
    assert "graph/HCLG.fst" in check_model_dir(no_graph) and "am/final.mdl" not in check_model_dir(no_graph)


def test_model_unzipped_one_level_too_deep_names_the_right_directory(tmp_path):
    _fake_model(tmp_path / "vosk-model-small-cn-0.22")
    reason = check_model_dir(str(tmp_path))
    assert f"set VOSK_MODEL_DIR={tmp_path / 'vosk-model-small-cn-0.22'}" in reason


def test_the_test_model_directory_passes_the_check():
    assert check_model_dir(test_model_dir()) is None


@pytest.mark.parametrize("value", ["", "/nonexistent/vosk-model-cn"])
def test_engine_without_model_is_disabled_and_says_why(value):
    engine = SpeechEngine.from_config(Config(vosk_model_dir=value))
    assert engine.enabled is False
    assert engine.reason in ("VOSK_MODEL_DIR is not set", "model directory /nonexistent/vosk-model-cn not found")
    assert engine.open_stream(lambda s: None, lambda s: None) is None
    assert engine.reason in engine.reason_zh and engine.reason_zh.startswith("语音识别未启用")
    with pytest.raises(SpeechDisabled, match=engine.reason):
        transcribe_wav(engine, audio_path("ko_1.wav"))
    engine.close()


def test_files_that_vosk_rejects_give_a_reason_not_a_crash(tmp_path):
    fake = _fake_model(tmp_path / "broken")
    assert check_model_dir(fake) is None
    engine = SpeechEngine.from_config(Config(vosk_model_dir=fake))
    assert not engine.enabled
    assert engine.reason == f"vosk could not load the model in {fake}: Failed to create a model"


def test_the_model_loads_once_per_process():
    first = load_model(test_model_dir())
    assert load_model(test_model_dir() + os.sep) is first
    engine = SpeechEngine.from_config(Config(vosk_model_dir=test_model_dir(), max_live_transcriptions=3),
                                      prewarm=0)
    assert engine.enabled and engine.reason is None and engine.model is first
    assert engine.max_live == 3
    assert "test-only" in engine.warning  # the Korean model is flagged as not for production
    engine.close()
    assert engine.open_stream() is None


def test_speech_check_command_reports_both_cases():
    runner = CliRunner()
    off = runner.invoke(speech_group, ["check"], env={"VOSK_MODEL_DIR": "/nonexistent/model"})
    assert off.exit_code == 1
    assert "transcription OFF: model directory /nonexistent/model not found" in off.output
    on = runner.invoke(speech_group, ["check", "--wav", audio_path("silence_3s.wav")],
                       env={"VOSK_MODEL_DIR": test_model_dir()})
    assert on.exit_code == 0, on.output
    assert "live transcription ON" in on.output
    assert "WARNING" in on.output and "test-only" in on.output
    assert "(no speech recognised)" in on.output
