using System.Threading.Channels;
using Vireo.Model;

namespace Vireo.Qemu.Qmp;

public sealed partial class QmpClient
{
    // Bounded so a client nobody reads events from cannot grow without limit; the oldest go first.
    private const int EventCapacity = 4096;

    private readonly Channel<QmpEvent> _events;
    private readonly List<EventWaiter> _waiters = [];

    /// <summary>
    /// Every event in arrival order (the last <c>4096</c> when nobody reads). Completes when the connection
    /// closes, after the events that came before the close.
    /// </summary>
    public ChannelReader<QmpEvent> Events => _events.Reader;

    /// <summary>
    /// The next event that satisfies <paramref name="predicate"/>. The wait is registered before this method
    /// returns, so start it before the command that causes the event:
    /// <code>var stopped = qmp.WaitForEventAsync(QmpEventKind.Stop, t); await qmp.StopAsync(); await stopped;</code>
    /// Events seen by waiters still go to <see cref="Events"/> too.
    /// </summary>
    public Task<QmpEvent> WaitForEventAsync(Func<QmpEvent, bool> predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
        => WaitForEventAsync(predicate, timeout, "matching event", cancellationToken);

    /// <summary>The next event of kind <paramref name="kind"/>.</summary>
    public Task<QmpEvent> WaitForEventAsync(QmpEventKind kind, TimeSpan timeout, CancellationToken cancellationToken = default)
        => WaitForEventAsync(e => e.Kind == kind, timeout, kind.ToString(), cancellationToken);

    /// <summary>The next event named <paramref name="name"/> (as QEMU spells it, e.g. <c>BLOCK_JOB_COMPLETED</c>).</summary>
    public Task<QmpEvent> WaitForEventAsync(string name, TimeSpan timeout, CancellationToken cancellationToken = default)
        => WaitForEventAsync(e => e.Name == name, timeout, name, cancellationToken);

    private Task<QmpEvent> WaitForEventAsync(Func<QmpEvent, bool> predicate, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var waiter = new EventWaiter(predicate, new TaskCompletionSource<QmpEvent>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_waiters)
        {
            if (_isClosed)
            {
                return Task.FromException<QmpEvent>(new VireoException(ErrorKind.OperationFailed,
                    $"QMP connection to '{_path}' is closed; no {what} event can come"));
            }

            _waiters.Add(waiter);
        }

        return WaitAsync(waiter, timeout, what, cancellationToken);
    }

    private async Task<QmpEvent> WaitAsync(EventWaiter waiter, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await waiter.Event.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new VireoException(ErrorKind.Timeout, $"no {what} event from QEMU within {timeout.TotalSeconds:0.###} s");
        }
        finally
        {
            lock (_waiters)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    private static Channel<QmpEvent> CreateEventChannel()
        => Channel.CreateBounded<QmpEvent>(new BoundedChannelOptions(EventCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleWriter = true,
        });

    private void OnEvent(QmpEvent qmpEvent)
    {
        lock (_waiters)
        {
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                EventWaiter waiter = _waiters[i];
                bool match;
                try
                {
                    match = waiter.Predicate(qmpEvent);
                }
                catch (Exception e)
                {
                    _waiters.RemoveAt(i);
                    waiter.Event.TrySetException(e);
                    continue;
                }

                if (match)
                {
                    _waiters.RemoveAt(i);
                    waiter.Event.TrySetResult(qmpEvent);
                }
            }
        }

        _events.Writer.TryWrite(qmpEvent);
    }

    private void CompleteEvents(Exception? failure)
    {
        lock (_waiters)
        {
            foreach (EventWaiter waiter in _waiters)
            {
                waiter.Event.TrySetException(new VireoException(ErrorKind.OperationFailed,
                    "QEMU closed its QMP connection before the awaited event came" + (failure is null ? "" : $": {failure.Message}"), failure));
            }

            _waiters.Clear();
        }

        _events.Writer.TryComplete();
    }

    private sealed record EventWaiter(Func<QmpEvent, bool> Predicate, TaskCompletionSource<QmpEvent> Event);
}
