namespace GpuNet.Tape;

/// <summary>
/// Whether ops record themselves into the graph, per thread. <see cref="Disable"/> scopes nest:
/// recording resumes when the outermost one is disposed.
/// </summary>
public static class GradMode
{
    [ThreadStatic] private static int t_disabledDepth;

    /// <summary>True unless inside a <see cref="Disable"/> scope on this thread.</summary>
    public static bool IsEnabled => t_disabledDepth == 0;

    /// <summary>Stops recording on this thread until the returned scope is disposed.</summary>
    public static IDisposable Disable() => new Scope(+1);

    /// <summary>Records again on this thread (inside a no-grad scope) until disposed; used by double backward.</summary>
    public static IDisposable Enable() => new Scope(-t_disabledDepth);

    private sealed class Scope : IDisposable
    {
        private readonly int _delta;
        private bool _done;

        public Scope(int delta)
        {
            _delta = delta;
            t_disabledDepth += delta;
        }

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_disabledDepth -= _delta;
        }
    }
}
