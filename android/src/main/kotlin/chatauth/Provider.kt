package chatauth

/**
 * The app's source of customer contexts (ASAPP's `ContextProvider`, the
 * browser's `contextProvider`). chat-auth asks it for a context when it has
 * no token for the customer, or when the token endpoint cannot refresh it.
 *
 * It is called on the [ChatAuth]'s scheduler thread: return quickly and
 * answer through [callback] once, from any thread (an answer after the
 * deadline, or after the call was cancelled, is ignored).
 */
fun interface ContextProvider {
    /** Asks for a context for [request]. */
    fun provideContext(request: ContextRequest, callback: ContextCallback)
}

/** One call of the [ContextProvider]. */
class ContextRequest internal constructor(
    /** The last token was refused or is expiring: hand over a fresh one, not the cached one. */
    val needsRefresh: Boolean,
    /** Why: `initial`, `scheduled`, `after_401`, `forced`, `retry` or `customer_changed`. */
    val reason: String,
    /** When chat-auth stops waiting (ms since the epoch). */
    val deadline: Long,
) {
    @Volatile
    var isCancelled: Boolean = false
        internal set
}

/** Where the provider answers. */
interface ContextCallback {
    /**
     * The context as JSON text: an OAuth token response (`{ "access_token",
     * "token_type", "expires_in", "refresh_token" }`) or ASAPP's shape
     * (`{ "Auth": { "Token", "ExpiresAt", "Headers" } }`).
     */
    fun onContext(contextJson: String)

    /** No context can be had (the customer must log in again). The error itself is never reported on. */
    fun onError(error: Throwable)
}

/** Called when the customer has to log in again: [code] and `unauthorized` or `auth_lost` as [reason]. */
fun interface LoginHandler {
    /** The session needs a login. */
    fun loginNeeded(code: String, reason: String)
}

/**
 * Where chat-auth keeps its two entries (`chat-auth:anonymous-id`, and with
 * `"storage": "session"` the token entry). On Android back it with private
 * app storage (the token entry holds a refresh token: EncryptedSharedPreferences);
 * the default keeps them in memory for the process's life.
 */
interface KeyValueStore {
    /** The value, or null. */
    fun get(key: String): String?

    /** Writes the value; false when it cannot be written. */
    fun put(key: String, value: String): Boolean

    /** Removes the entry; false when it cannot be removed. */
    fun remove(key: String): Boolean
}

/** A [KeyValueStore] in memory. */
class MemoryStore : KeyValueStore {
    private val map = java.util.concurrent.ConcurrentHashMap<String, String>()

    override fun get(key: String): String? = map[key]

    override fun put(key: String, value: String): Boolean {
        map[key] = value
        return true
    }

    override fun remove(key: String): Boolean {
        map.remove(key)
        return true
    }
}
