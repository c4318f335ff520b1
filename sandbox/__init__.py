"""The provider sandbox: a local stand-in for SendGrid and Twilio that the real SDKs talk to."""
