using System.Security.Cryptography;
using System.Text;
using Capstan.Server.Hosting;

namespace Capstan.Server.Security;

/// <summary>Encrypts secrets at rest (storage credentials, signing keys) with AES-256-GCM. The key is
/// <c>Capstan:EncryptionKey</c> (base64, 32 bytes) when configured, which every node of a multi-node
/// deployment must share; otherwise <c>secret.key</c> in the data folder, created on first use (mode 0600).</summary>
public sealed class SecretProtector
{
    private const string Version = "v1:";
    private readonly byte[] _key;

    public SecretProtector(CapstanOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _key = LoadKey(options);
    }

    /// <summary>A key for another purpose (for example URL signing), derived from the protection key with HKDF.</summary>
    public byte[] DeriveKey(string purpose) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _key, 32, info: Encoding.UTF8.GetBytes(purpose));

    public string Protect(string plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        var data = Encoding.UTF8.GetBytes(plaintext);
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var cipher = new byte[data.Length];
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        using (var aes = new AesGcm(_key, tag.Length))
        {
            aes.Encrypt(nonce, data, cipher, tag);
        }
        return Version + Convert.ToBase64String([.. nonce, .. tag, .. cipher]);
    }

    public string Unprotect(string protectedText)
    {
        ArgumentNullException.ThrowIfNull(protectedText);
        if (!protectedText.StartsWith(Version, StringComparison.Ordinal))
        {
            throw new CryptographicException("unknown secret format");
        }
        var all = Convert.FromBase64String(protectedText[Version.Length..]);
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        var plain = new byte[all.Length - nonceSize - tagSize];
        using (var aes = new AesGcm(_key, tagSize))
        {
            aes.Decrypt(all.AsSpan(0, nonceSize), all.AsSpan(nonceSize + tagSize), all.AsSpan(nonceSize, tagSize), plain);
        }
        return Encoding.UTF8.GetString(plain);
    }

    private static byte[] LoadKey(CapstanOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.EncryptionKey))
        {
            var configured = Convert.FromBase64String(options.EncryptionKey);
            if (configured.Length != 32)
            {
                throw new InvalidOperationException("Capstan:EncryptionKey must be 32 bytes, base64 encoded");
            }
            return configured;
        }
        Directory.CreateDirectory(options.DataDir);
        var path = Path.Combine(options.DataDir, "secret.key");
        if (File.Exists(path))
        {
            return Convert.FromBase64String(File.ReadAllText(path).Trim());
        }
        var key = RandomNumberGenerator.GetBytes(32);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, Convert.ToBase64String(key));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        try
        {
            File.Move(tmp, path, overwrite: false);
        }
        catch (IOException)
        {
            // Another process created it first: use theirs.
            File.Delete(tmp);
        }
        return Convert.FromBase64String(File.ReadAllText(path).Trim());
    }
}
