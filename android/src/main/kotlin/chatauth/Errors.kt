package chatauth

import java.io.IOException

/**
 * A chat-auth failure. [code] is the stable contract string, the same as
 * `ChatAuthError.code` in the browser build (`invalid_config`,
 * `customer_id_pii`, `refresh_failed`, `provider_failed`, `network`,
 * `destroyed`, …); the message never holds a token.
 */
class ChatAuthException(
    val code: String,
    message: String,
    /** `email`, `phone`, `ssn` or `card` for `customer_id_pii`. */
    val detail: String? = null,
    cause: Throwable? = null,
) : Exception("$code: $message", cause)

/**
 * The same failure on an OkHttp call (OkHttp's calls fail with [IOException]s):
 * the request through [ChatAuth.install]'s client could not be sent with a token.
 */
class ChatAuthIOException(val error: ChatAuthException) : IOException(error.message, error) {
    /** The stable code. */
    val code: String get() = error.code
}

/** The generated binding's exception as the SDK's own. */
internal fun chatauth.ffi.FfiException.toChatAuth(): ChatAuthException = when (this) {
    is chatauth.ffi.FfiException.Failed -> ChatAuthException(code, reason, detail, this)
}
