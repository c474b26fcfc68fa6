using Isola.Cli.Output;

namespace Isola.Cli.Client;

/// <summary>
/// How far an upload is, on standard error for a person at a terminal: one line, rewritten every 5%
/// (<c>image debian: 1.2 GiB of 4.0 GiB (30%)</c>), ended when the bytes are all sent. Small uploads and
/// output that is not a terminal get none, as the other long work of the CLI.
/// </summary>
internal sealed class UploadProgress(TextWriter error, string what, long total)
{
    /// <summary>Below this an upload is quick: no progress.</summary>
    public const long Worth = 16 << 20;

    private int _shown = -1;

    public static UploadProgress? For(CliConsole console, string what, long total) =>
        console.Interactive && total >= Worth ? new UploadProgress(console.Error, what, total) : null;

    public void Sent(long sent)
    {
        var percent = total == 0 ? 100 : (int)(sent * 100 / total);
        if (percent / 5 == _shown / 5 && _shown >= 0)
            return;
        _shown = percent;
        error.Write($"\r{what}: {Units.Size(sent)} of {Units.Size(total)} ({percent}%)");
        if (sent >= total)
            error.WriteLine();
    }
}

/// <summary>A stream read through, saying how many bytes have been read so far.</summary>
internal sealed class CountingStream(Stream inner, Action<long> read) : Stream
{
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int n)
    {
        _read += n;
        read(_read);
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
