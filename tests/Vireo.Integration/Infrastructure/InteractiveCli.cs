using System.Diagnostics;
using System.Text;

namespace Vireo.Integration.Infrastructure;

/// <summary>
/// A vireo command that keeps running while the test talks to it (<c>console</c>): stdin stays open, stdout is
/// collected as it comes and can be waited on for a text.
/// </summary>
public sealed class InteractiveCli : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly SemaphoreSlim _more = new(0);
    private readonly Task _reader;

    internal InteractiveCli(Process process)
    {
        _process = process;
        _reader = Task.Run(ReadAsync);
    }

    public string Output
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public Stream Input => _process.StandardInput.BaseStream;

    /// <summary>Waits until stdout contains <paramref name="text"/>; fails with what was printed so far.</summary>
    public async Task WaitForAsync(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            var left = timeout - deadline.Elapsed;
            if (left <= TimeSpan.Zero || _reader.IsCompleted)
            {
                throw new TimeoutException($"'{text}' did not appear within {timeout.TotalSeconds} s; output so far:\n{Output}");
            }

            await _more.WaitAsync(left);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        await _reader;
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
        _more.Dispose();
    }

    private async Task ReadAsync()
    {
        var buf = new char[4096];
        int n;
        while ((n = await _process.StandardOutput.ReadAsync(buf)) > 0)
        {
            lock (_stdout)
            {
                _stdout.Append(buf, 0, n);
            }

            _more.Release();
        }

        _more.Release();
    }
}
