namespace Vireo.Images.Qcow2;

/// <summary>
/// A bounded cache of whole metadata clusters (L2 tables, refcount blocks) keyed by host offset.
/// Tables are written through, so eviction never loses anything; the bound keeps memory flat on huge images.
/// </summary>
internal sealed class MetadataCache
{
    private readonly Dictionary<long, byte[]> _tables = [];
    private readonly int _capacity;
    private long _lastKey = -1;
    private byte[]? _last;

    public MetadataCache(int clusterSize, long budgetBytes)
    {
        _capacity = (int)Math.Clamp(budgetBytes / clusterSize, 4, 65536);
    }

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
                _tables.Remove(k);
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
