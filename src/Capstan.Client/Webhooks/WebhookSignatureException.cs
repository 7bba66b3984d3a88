namespace Capstan.Client.Webhooks;

/// <summary>A webhook request whose <c>rtk-signature</c> is missing or does not match its body.</summary>
public sealed class WebhookSignatureException(string message) : Exception(message);
