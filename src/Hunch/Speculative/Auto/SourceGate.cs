namespace Hunch.Speculative.Auto;

/// <summary>
/// Whether one of auto's sources is worth running. While on, each step adds what the source bought (the
/// accepted tokens no other running source proposed, priced at the current milliseconds per committed token)
/// and what it cost (its own drafting and observing time plus the forward time of the rows only it put in the
/// tree). A source pays when removing it would lengthen time per token: with T ms per step and M tokens per
/// step, dropping a source that costs c ms and uniquely supplies u tokens per step gives (T - c) / (M - u),
/// worse than T / M exactly when c &lt; u T / M. Every <see cref="Window"/> steps auto compares the sums (the
/// previous window counts half, to smooth the small counts) and may switch one non-paying source off. An off
/// source is probed again after a while (a fresh window on), the wait doubling after each failed probe and
/// reset when a probe pays, so a source whose text comes back is found again and a useless one costs little.
/// The state outlives a request: a drafter serves one model in one process, and what paid on the last request
/// is the best guess for the next.
/// </summary>
internal sealed class SourceGate
{
    /// <summary>Steps a source runs between two evaluations.</summary>
    public const int Window = 48;
    /// <summary>Steps a source stays off after its first failed evaluation.</summary>
    public const int FirstWait = 64;
    /// <summary>Longest wait between probes.</summary>
    public const int MaxWait = 4096;

    double _benefit, _cost;
    int _steps;
    int _wait = FirstWait;
    int _offLeft;

    /// <summary>Whether the source runs this step.</summary>
    public bool On { get; private set; } = true;

    /// <summary>Steps since the current window began (source on).</summary>
    public int Steps => _steps;

    /// <summary>Milliseconds bought minus milliseconds spent over the current window (and half the last one).</summary>
    public double Net => _benefit - _cost;

    /// <summary>Whether the source has run a whole window since the last evaluation.</summary>
    public bool Due => On && _steps >= Window;

    /// <summary>Times the source was switched off, and probes started.</summary>
    public int SwitchedOff { get; private set; }

    /// <summary>Adds one step of the source running: <paramref name="benefitMs"/> bought, <paramref name="costMs"/> spent.</summary>
    public void Record(double benefitMs, double costMs)
    {
        if (!On) return;
        _benefit += benefitMs;
        _cost += costMs;
        _steps++;
    }

    /// <summary>After a window: the source stays on; the window's sums count half in the next one.</summary>
    public void Keep()
    {
        if (Net >= 0) _wait = FirstWait;
        _benefit *= 0.5;
        _cost *= 0.5;
        _steps = 0;
    }

    /// <summary>After a window that did not pay: the source is off for the current wait, which then doubles.</summary>
    public void SwitchOff()
    {
        On = false;
        SwitchedOff++;
        _offLeft = _wait;
        _wait = Math.Min(_wait * 2, MaxWait);
        _benefit = _cost = 0;
        _steps = 0;
    }

    /// <summary>Counts one step while off; returns true when the source comes back on for a probe.</summary>
    public bool TickOff()
    {
        if (On) return false;
        if (--_offLeft > 0) return false;
        On = true;
        _benefit = _cost = 0;
        _steps = 0;
        return true;
    }
}
