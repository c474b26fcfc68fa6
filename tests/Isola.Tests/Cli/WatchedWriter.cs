namespace Isola.Tests.Cli;

/// <summary>A writer a test reads while a long-running command (serve, up) writes to it, and waits on for a line to appear.</summary>
internal sealed class WatchedWriter : StringWriter
{
    private readonly Lock _lock = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waits = [];

    public override void Write(char value)
    {
        lock (_lock)
        {
            base.Write(value);
            Check();
        }
    }

    public override void Write(string? value)
    {
        lock (_lock)
        {
            base.Write(value);
            Check();
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_lock)
        {
            base.WriteLine(value);
            Check();
        }
    }

    public string Snapshot()
    {
        lock (_lock)
            return GetStringBuilder().ToString();
    }

    /// <summary>
    /// Waits until <paramref name="text"/> has been written, or <paramref name="run"/> ended without it
    /// (then the assert says so); a busy machine gets a generous deadline, never a fixed wait.
    /// </summary>
    public async Task<string> WaitForAsync(string text, Task run, TimeSpan? deadline = null)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _waits.Add((text, seen));
            Check();
        }
        await Task.WhenAny(seen.Task, run).WaitAsync(deadline ?? TimeSpan.FromMinutes(5));
        var output = Snapshot();
        Assert.True(seen.Task.IsCompleted, $"the command ended before writing '{text}':\n{output}");
        return output;
    }

    private void Check()
    {
        if (_waits.Count == 0)
            return;
        var text = GetStringBuilder().ToString();
        foreach (var wait in _waits.Where(w => text.Contains(w.Text, StringComparison.Ordinal)).ToList())
        {
            wait.Seen.TrySetResult();
            _waits.Remove(wait);
        }
    }
}
