namespace Vireo.Images.Qcow2;

/// <summary>
/// A bounded cache of whole metadata clusters (L2 tables, refcount blocks) keyed by host offset.
/// Tables are written through, so eviction never loses anything; the bound keeps memory flat on huge images.
/// </summary>
internal sealed class MetadataCache
{
    private readonly Dictionary<long, byte[]> _tables = [];
    private readonly int _capacity;
    private readonly int _tableSize;
    private long _evicted;
    private readonly Stack<byte[]>? _spare;
    private long _lastKey = -1;
    private byte[]? _last;

    /// <param name="recycle">
    /// Reuse evicted tables for later loads. Only for owners that never hold a table across two loads
    /// (read-only images): walking a 1 TiB image otherwise leaves a table's worth of garbage per L2 table,
    /// which the GC lets pile up to well past the cache's own size.
    /// </param>
    public MetadataCache(int clusterSize, long budgetBytes, bool recycle = false)
    {
        _capacity = (int)Math.Clamp(budgetBytes / clusterSize, 4, 65536);
        _tableSize = clusterSize;
        _spare = recycle ? new Stack<byte[]>() : null;
    }

    /// <summary>An array for a table about to be loaded: an evicted one when recycling, else a new one.</summary>
    public byte[] Rent(int size) => _spare is { Count: > 0 } s && s.Peek().Length == size ? s.Pop() : new byte[size];

    public bool TryGet(long key, out byte[] table)
    {
        if (key == _lastKey && _last is not null)
        {
            table = _last;
            return true;
        }

        if (_tables.TryGetValue(key, out table!))
        {
            _lastKey = key;
            _last = table;
            return true;
        }

        return false;
    }

    public void Add(long key, byte[] table)
    {
        if (_tables.Count >= _capacity)
        {
            // Drop half at random-ish (dictionary order): cheap and good enough for sequential and random access.
            int drop = _tables.Count / 2;
            foreach (var k in _tables.Keys.Take(drop).ToList())
            {
                if (_tables.Remove(k, out var old) && _spare is not null)
                {
                    _spare.Push(old);
                }

                if (k == _lastKey)
                {
                    _lastKey = -1;
                    _last = null;
                }
            }

            // Tables that cannot be recycled (a writer may hold one across loads) die old, in gen2, and
            // a writer churning through a 1 TiB image left the heap at several times the cache's size
            // before the GC came for them. Collect once per 8 MiB evicted: a few ms on a heap this small,
            // once per hundreds of tables.
            if (_spare is null && (_evicted += (long)drop * _tableSize) >= 8L * 1024 * 1024)
            {
                _evicted = 0;
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            }
        }

        _tables[key] = table;
        _lastKey = key;
        _last = table;
    }

    public void Remove(long key)
    {
        _tables.Remove(key);
        if (key == _lastKey)
        {
            _lastKey = -1;
            _last = null;
        }
    }

    public void Clear()
    {
        _tables.Clear();
        _lastKey = -1;
        _last = null;
    }
}
