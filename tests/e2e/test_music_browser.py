"""The Music page in Chromium: generate, hear (the audio element plays a real WAV), see the piano
roll, change one voice, download the MIDI; and the page in Chinese."""
import io

import pretty_midi

from e2e_helpers import assert_no_exception, settle, shot


def audio_ready(page, index: int) -> float:
    """The duration in seconds the browser decoded from the index-th audio element's source."""
    audio = page.locator("audio").nth(index)
    audio.wait_for(state="attached")
    return page.wait_for_function(
        """(i) => { const a = document.querySelectorAll('audio')[i];
                    return a && a.src && a.readyState >= 1 && a.duration > 0 ? a.duration : null; }""",
        arg=index, timeout=60_000).json_value()


def test_music_main_path(page, tmp_path):
    page.goto(page.base + "/music?m_model=music_hybrid&m_seed=11")
    settle(page)
    page.get_by_text("music_hybrid, seed 11").first.wait_for()
    # the piano roll: one bar per note, in four colours
    assert page.locator(".js-plotly-plot").first.locator("g.trace.bars").count() == 4
    seconds = audio_ready(page, 0)
    assert 64 * 60 / 80 / 4 <= seconds <= 64 * 60 / 80 / 4 + 1   # four bars at 80 bpm, plus the release
    page.locator("audio").first.evaluate("a => a.play()")            # it plays (Chromium autoplays muted media)
    page.wait_for_function("() => document.querySelector('audio').currentTime > 0", timeout=20_000)
    with page.expect_download() as dl:
        page.get_by_role("button", name="MIDI").first.click()
    dl.value.save_as(tmp_path / "song.mid")
    pm = pretty_midi.PrettyMIDI(io.BytesIO((tmp_path / "song.mid").read_bytes()))
    assert [i.name for i in pm.instruments] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert sum(len(i.notes) for i in pm.instruments) > 8
    shot(page, "music_generate")

    page.get_by_role("tab", name="Change one voice").click()
    page.get_by_text("Hybrid design", exact=True).wait_for()
    page.get_by_test_id("stRadio").get_by_text("Tenor").click()
    page.get_by_text("Voices that changed: Tenor.").wait_for()
    assert_no_exception(page)
    shot(page, "music_voice")

    page.get_by_role("tab", name="Metrics").click()
    page.get_by_test_id("stDataFrame").first.wait_for()
    shot(page, "music_metrics")
    page.get_by_role("tab", name="A real chorale").click()
    page.get_by_text("bars 1–4").first.wait_for()
    assert_no_exception(page)
    shot(page, "music_real")


def test_music_in_chinese(page):
    page.goto(page.base + "/music?lang=zh")
    settle(page)
    page.get_by_role("heading", name="音乐").wait_for()
    page.get_by_role("tab", name="更换一个声部").wait_for()
    assert audio_ready(page, 0) > 0
    assert_no_exception(page)
    shot(page, "music_zh")
