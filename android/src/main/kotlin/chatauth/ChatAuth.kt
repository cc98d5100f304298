package chatauth

import chatauth.ffi.FfiException
import chatauth.ffi.HeaderPair
import chatauth.ffi.HostEffect
import chatauth.ffi.HostEnvironment
import chatauth.ffi.HostEvent
import chatauth.ffi.HostInput
import chatauth.ffi.HostReply
import chatauth.ffi.HttpRequest
import chatauth.ffi.ProviderFailureKind
import chatauth.ffi.SessionDriver
import okhttp3.Call
import okhttp3.Callback
import okhttp3.HttpUrl
import okhttp3.MediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody
import okhttp3.Response
import java.io.IOException
import java.util.concurrent.CompletableFuture
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.ScheduledExecutorService
import java.util.concurrent.ScheduledFuture
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import java.util.concurrent.atomic.AtomicLong

/** `ChatAuth.state`. */
enum class AuthState(val wire: String) {
    ANONYMOUS("anonymous"),
    AUTHENTICATING("authenticating"),
    AUTHENTICATED("authenticated"),
    REFRESHING("refreshing"),
    EXPIRED("expired"),
    LOGGED_OUT("logged_out"),
    DESTROYED("destroyed"),
    ;

    companion object {
        /** The state for its contract string. */
        fun of(wire: String): AuthState = entries.firstOrNull { it.wire == wire } ?: DESTROYED
    }
}

/**
 * An `auth.on` event: [name] (`state`, `authenticated`, `refreshed`,
 * `refresh-failed`, `auth-lost`, `logged-out`), its detail as the browser's
 * handlers get it ([detailJson]), and the same detail typed ([event]).
 */
class ChatAuthEvent(val name: String, val detailJson: String, val event: HostEvent)

/** Something to remove a listener with. */
fun interface Subscription {
    /** Removes the listener. */
    fun remove()
}

/**
 * Customer authentication for a chat in an Android (or any JVM) app: the
 * same session driver as the web widget (Rust, through UniFFI), with the
 * I/O carried out here. This class decides nothing: every decision (when to
 * refresh, what a token is worth, which request gets which header, the
 * 401 → one refresh → one replay) is the driver's; it executes the effects.
 *
 * [optionsJson] is the browser's `ChatAuthOptions` as JSON without the
 * functions (`apiOrigins`, `tokenEndpoint`, `clientId`, `validation`,
 * `refresh`, `storage`); `crossTab` has no meaning in one app process.
 *
 * Thread-safety: every method may be called from any thread. The driver is
 * only touched under one lock, on [scheduler]'s threads: each input is a
 * task there that feeds the driver and carries out the effects in order,
 * under the lock. The provider, the listeners and the login handler are
 * called from those tasks; they must not block (answer the provider through
 * its callback). Give a single-thread scheduler (`Executors.newSingleThreadScheduledExecutor()`)
 * that the app owns; chat-auth never shuts it down. Blocking calls
 * ([ChatAuth.interceptor]'s) wait at most [REPLY_TIMEOUT_MS].
 */
class ChatAuth(
    optionsJson: String,
    private val scheduler: ScheduledExecutorService,
    http: OkHttpClient = OkHttpClient(),
    private val store: KeyValueStore = MemoryStore(),
    private val loginHandler: LoginHandler? = null,
    contextProvider: ContextProvider? = null,
    online: Boolean = true,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    companion object {
        /** The longest a blocking call waits for the driver's answer. */
        const val REPLY_TIMEOUT_MS: Long = 120_000

        private const val ANONYMOUS_ID_KEY = "chat-auth:anonymous-id"
        private val FORM = MediaType.parse("application/x-www-form-urlencoded")

        /** `checkCustomerId(id)`: throws `customer_id_invalid` or `customer_id_pii`. */
        @JvmStatic
        fun checkCustomerId(id: String) = ffi { chatauth.ffi.checkCustomerId(id) }

        /** `decodeToken(token)`, without verification. */
        @JvmStatic
        fun decodeToken(token: String): chatauth.ffi.DecodedToken = ffi { chatauth.ffi.decodeToken(token) }

        /** `verifyToken(token, options)`: the claims as JSON text. */
        @JvmStatic
        fun verifyToken(token: String, optionsJson: String, nowMs: Long = System.currentTimeMillis()): String =
            ffi { chatauth.ffi.verifyToken(token, optionsJson, nowMs) }

        /** Every stable error code. */
        @JvmStatic
        fun errorCodes(): List<String> = chatauth.ffi.errorCodes()

        private inline fun <T> ffi(block: () -> T): T =
            try {
                block()
            } catch (e: FfiException) {
                throw e.toChatAuth()
            }

        /** `scheme://host:port` of [url], as the driver compares origins. */
        internal fun originOf(url: HttpUrl): String {
            val host = url.host()
            val bracketed = if (host.contains(':')) "[$host]" else host
            return "${url.scheme()}://$bracketed:${url.port()}"
        }
    }

    private val lock = Any()
    private val driver: SessionDriver
    private val nextId = AtomicLong(1)

    // The driver's own requests (refresh grant, JWKS, introspection): no redirects (a redirect would post
    // the refresh token on), and a refresh grant may take as long as the driver waits for it (60 s,
    // GRANT_TIMEOUT_MS), not OkHttp's 10 s read timeout: a grant given up on early would be retried with
    // a refresh token the server may have rotated already.
    private val http: OkHttpClient = http.newBuilder()
        .followRedirects(false)
        .followSslRedirects(false)
        .readTimeout(60, java.util.concurrent.TimeUnit.SECONDS)
        .callTimeout(60, java.util.concurrent.TimeUnit.SECONDS)
        .build()

    // Everything below is touched only under `lock`.
    private var provider: ContextProvider? = contextProvider
    private val pending = HashMap<Long, (HostReply) -> Unit>()
    private val calls = HashMap<Long, ContextRequest>()
    private val exchanges = HashMap<Long, Call>()
    private var timer: ScheduledFuture<*>? = null
    private var timerGeneration = 0L
    private val stateListeners = LinkedHashMap<Long, (AuthState, AuthState) -> Unit>()
    private val eventListeners = LinkedHashMap<Long, (ChatAuthEvent) -> Unit>()
    private var closed = false

    init {
        val env = HostEnvironment(contextProvider != null, store.get(ANONYMOUS_ID_KEY), online)
        driver = try {
            SessionDriver(optionsJson, env, clock())
        } catch (e: FfiException) {
            throw e.toChatAuth()
        }
        synchronized(lock) { drain() }
    }

    // ---- the API ---------------------------------------------------------

    /** `state`. */
    val state: AuthState get() = AuthState.of(driver.state())

    /** The customer id, or null. */
    val customerId: String? get() = driver.customerId()

    /** The anonymous id sent as `Chat-Anonymous-Id`. */
    val anonymousId: String get() = driver.anonymousId()

    /** The store's key of the token entry (one per credential source), with `"storage": "session"`. */
    val tokenStorageKey: String get() = driver.tokenStorageKey()

    /** The token's expiry (ms since the epoch), or null. */
    val expiresAt: Long? get() = driver.expiresAt()

    /**
     * When the token will be refreshed (ms since the epoch): [expiresAt] minus the margin (at most
     * 25 % of the lifetime), plus jitter; null when anonymous, refreshing, or nothing can refresh it.
     */
    val refreshAt: Long? get() = driver.refreshAt()

    /** The token's claims as JSON text, or null (opaque token, or anonymous). */
    val claimsJson: String? get() = driver.claimsJson()

    /**
     * Sets (or switches) the customer; completes once authenticated, or
     * fails with a [ChatAuthException] (`customer_id_pii`, `provider_failed`, …).
     */
    fun setCustomer(customerId: String, contextProvider: ContextProvider? = null): CompletableFuture<Unit> {
        val id = nextId.getAndIncrement()
        return ask(id, { reply -> if (reply is HostReply.Done) Unit else throw unexpected(reply) }) {
            if (contextProvider != null) provider = contextProvider
            HostInput.SetCustomer(id.toULong(), customerId, contextProvider != null, store.get(tokenStorageKey))
        }
    }

    /** Logs out: forgets the token and the customer, takes a new anonymous id. */
    fun clearCustomer(): CompletableFuture<Unit> {
        val id = nextId.getAndIncrement()
        return ask(id, { reply -> if (reply is HostReply.Done) Unit else throw unexpected(reply) }) {
            HostInput.ClearCustomer(id.toULong())
        }
    }

    /** The access token (refreshed first when due, or when [forceRefresh]); null when anonymous. */
    fun getToken(forceRefresh: Boolean = false): CompletableFuture<String?> {
        val id = nextId.getAndIncrement()
        return ask(id, { reply -> if (reply is HostReply.Token) reply.token else throw unexpected(reply) }) {
            HostInput.GetToken(id.toULong(), forceRefresh)
        }
    }

    /** The headers for a request to [url] (none for origins outside `apiOrigins`). */
    fun authHeaders(url: String): CompletableFuture<Map<String, String>> {
        val id = nextId.getAndIncrement()
        val origin = HttpUrl.parse(url)?.let(::originOf)
        return ask(id, { reply ->
            if (reply is HostReply.Headers) reply.headers.associate { it.name to it.value } else throw unexpected(reply)
        }) { HostInput.AuthHeaders(id.toULong(), origin) }
    }

    /** Listens to state changes (new state, previous state). */
    fun addStateListener(listener: (AuthState, AuthState) -> Unit): Subscription {
        val id = nextId.getAndIncrement()
        synchronized(lock) { if (!closed) stateListeners[id] = listener }
        return Subscription { synchronized(lock) { stateListeners.remove(id) } }
    }

    /** Listens to every event (`state`, `authenticated`, `refreshed`, `refresh-failed`, `auth-lost`, `logged-out`). */
    fun addEventListener(listener: (ChatAuthEvent) -> Unit): Subscription {
        val id = nextId.getAndIncrement()
        synchronized(lock) { if (!closed) eventListeners[id] = listener }
        return Subscription { synchronized(lock) { eventListeners.remove(id) } }
    }

    /** The app came to the foreground (or the device woke): deadlines are checked again. */
    fun wake() = post(HostInput.Wake)

    /** Connectivity changed (ConnectivityManager's callback). */
    fun setOnline(online: Boolean) = post(HostInput.Online(online))

    /** Cancels the timer and the calls under way; pending requests fail with `destroyed`. */
    fun destroy() = post(HostInput.Destroy)

    /**
     * [client] with this session's [interceptor] and [authenticator], not
     * following redirects (a followed redirect would carry the headers to
     * wherever it points; the driver is told so, and a 3xx comes back as it is).
     */
    fun install(client: OkHttpClient): OkHttpClient =
        client.newBuilder()
            .followRedirects(false)
            .followSslRedirects(false)
            .addInterceptor(interceptor)
            .authenticator(authenticator)
            .build()

    /** Attaches the driver's headers to requests for allowed origins (see [install]). */
    val interceptor: okhttp3.Interceptor = ChatAuthInterceptor(this)

    /** On a 401, asks the driver: one refresh, one replay (see [install]). */
    val authenticator: okhttp3.Authenticator = ChatAuthAuthenticator(this)

    // ---- requests ----------------------------------------------------------

    internal fun newRequestId(): Long = nextId.getAndIncrement()

    /**
     * Registers request [id]'s answer, then feeds [input] on the scheduler;
     * [read] turns the reply into the future's value (or throws).
     */
    private fun <T> ask(id: Long, read: (HostReply) -> T, input: () -> HostInput): CompletableFuture<T> {
        val future = CompletableFuture<T>()
        val answer: (HostReply) -> Unit = { reply ->
            when (reply) {
                is HostReply.Reject -> future.completeExceptionally(ChatAuthException(reply.code, reply.reason))
                else -> try {
                    future.complete(read(reply))
                } catch (e: Throwable) {
                    future.completeExceptionally(e)
                }
            }
        }
        submit {
            pending[id] = answer
            feed(input())
        }.exceptionally { e ->
            future.completeExceptionally(e)
            Unit
        }
        return future
    }

    /** Feeds [input] for request [id] and waits (bounded) for the driver's reply: for the OkHttp classes. */
    internal fun await(id: Long, input: HostInput): HostReply {
        val future = ask(id, { it }) { input }
        return try {
            future.get(REPLY_TIMEOUT_MS, TimeUnit.MILLISECONDS)
        } catch (e: TimeoutException) {
            // The driver forgets the request (it answers that with Rethrow, ignored).
            post(HostInput.FetchFailed(id.toULong(), true))
            synchronized(lock) { pending.remove(id) }
            HostReply.Reject("network", "chat-auth gave no answer within $REPLY_TIMEOUT_MS ms")
        } catch (e: java.util.concurrent.ExecutionException) {
            val cause = e.cause
            if (cause is ChatAuthException) HostReply.Reject(cause.code, cause.message ?: cause.code) else throw e
        } catch (e: InterruptedException) {
            Thread.currentThread().interrupt()
            post(HostInput.FetchFailed(id.toULong(), true))
            HostReply.Rethrow
        }
    }

    private fun unexpected(reply: HostReply) = ChatAuthException("network", "unexpected answer ${reply::class.simpleName}")

    // ---- the loop ----------------------------------------------------------

    /** Runs [task] on the scheduler under the lock; fails with `destroyed` when the scheduler refuses it. */
    private fun submit(task: () -> Unit): CompletableFuture<Unit> {
        val done = CompletableFuture<Unit>()
        try {
            scheduler.execute {
                try {
                    synchronized(lock) { task() }
                    done.complete(Unit)
                } catch (e: Throwable) {
                    done.completeExceptionally(e)
                }
            }
        } catch (e: RejectedExecutionException) {
            done.completeExceptionally(ChatAuthException("destroyed", "the scheduler no longer runs tasks", cause = e))
        }
        return done
    }

    internal fun post(input: HostInput) {
        submit { feed(input) }
    }

    /** Under the lock: one input, then its effects. */
    private fun feed(input: HostInput) {
        driver.handle(clock(), input)
        drain()
    }

    /** Under the lock: carries out every effect, in order. */
    private fun drain() {
        while (true) {
            val effect = driver.poll(clock()) ?: return
            execute(effect)
        }
    }

    private fun execute(effect: HostEffect) {
        when (effect) {
            is HostEffect.Reply -> pending.remove(effect.request.toLong())?.invoke(effect.reply)
            is HostEffect.CallProvider -> callProvider(effect)
            is HostEffect.AbortCall -> calls.remove(effect.call.toLong())?.isCancelled = true
            is HostEffect.Http -> sendAfter(effect.request)
            is HostEffect.ArmTimer -> arm(effect.delayMs.toLong())
            is HostEffect.ClearTimer -> disarm()
            is HostEffect.Emit -> emit(ChatAuthEvent(effect.name, effect.detailJson, effect.event))
            is HostEffect.LoginNeeded -> report { loginHandler?.loginNeeded(effect.code, effect.reason) }
            is HostEffect.Store -> {
                val value = effect.value
                val ok = if (value == null) store.remove(effect.key) else store.put(effect.key, value)
                if (!ok) driver.handle(clock(), HostInput.StorageFailed(effect.key))
            }
            is HostEffect.Close -> close()
        }
    }

    private fun callProvider(effect: HostEffect.CallProvider) {
        // A new call supersedes the earlier ones.
        calls.values.forEach { it.isCancelled = true }
        calls.clear()
        val call = effect.call
        val p = provider
        if (p == null) {
            driver.handle(clock(), HostInput.ProviderFailed(call, ProviderFailureKind.MISSING))
            return
        }
        val request = ContextRequest(effect.needsRefresh, effect.reason, effect.deadline)
        calls[call.toLong()] = request
        val callback = object : ContextCallback {
            override fun onContext(contextJson: String) = post(HostInput.ProviderAnswered(call, contextJson))
            override fun onError(error: Throwable) = post(HostInput.ProviderFailed(call, ProviderFailureKind.REJECTED))
        }
        try {
            p.provideContext(request, callback)
        } catch (e: Exception) {
            driver.handle(clock(), HostInput.ProviderFailed(call, ProviderFailureKind.THREW))
        }
    }

    /** A retry waits its backoff (`delayMs`) on the scheduler, then sends under the lock. */
    private fun sendAfter(request: HttpRequest) {
        if (request.delayMs <= 0L) return send(request)
        try {
            scheduler.schedule({
                synchronized(lock) {
                    if (!closed) {
                        send(request)
                        drain()
                    }
                }
            }, request.delayMs, TimeUnit.MILLISECONDS)
        } catch (e: RejectedExecutionException) {
            driver.handle(clock(), HostInput.HttpFailed(request.exchange))
        }
    }

    private fun send(request: HttpRequest) {
        val body = request.formBody
        val exchange = request.exchange
        val call = try {
            val builder = Request.Builder().url(request.url).header("Accept", "application/json")
            if (body != null) builder.post(RequestBody.create(FORM, body))
            http.newCall(builder.build())
        } catch (e: IllegalArgumentException) {
            // No URL OkHttp can send to: a failed request, as the browser's fetch rejects.
            driver.handle(clock(), HostInput.HttpFailed(exchange))
            return
        }
        exchanges[exchange.toLong()] = call
        call.enqueue(object : Callback {
            override fun onFailure(call: Call, e: IOException) = answered(exchange, null)

            override fun onResponse(call: Call, response: Response) {
                val text = try {
                    response.body()?.string() ?: ""
                } catch (e: IOException) {
                    // Only a success needs its body.
                    if (response.isSuccessful) return answered(exchange, null) else ""
                } finally {
                    response.close()
                }
                answered(exchange, HostInput.HttpAnswered(exchange, response.code().toUShort(), response.header("Date"), response.header("Retry-After"), text))
            }
        })
    }

    private fun answered(exchange: ULong, input: HostInput?) {
        submit {
            if (exchanges.remove(exchange.toLong()) != null) feed(input ?: HostInput.HttpFailed(exchange))
        }
    }

    private fun arm(delayMs: Long) {
        disarm()
        val generation = timerGeneration
        timer = try {
            scheduler.schedule({
                synchronized(lock) {
                    // A timer replaced while it was about to run is not fed.
                    if (generation == timerGeneration && !closed) {
                        timer = null
                        feed(HostInput.TimerFired)
                    }
                }
            }, delayMs, TimeUnit.MILLISECONDS)
        } catch (e: RejectedExecutionException) {
            null
        }
    }

    private fun disarm() {
        timerGeneration++
        timer?.cancel(false)
        timer = null
    }

    private fun emit(event: ChatAuthEvent) {
        val e = event.event
        if (e is HostEvent.State) {
            val now = AuthState.of(e.state)
            val before = AuthState.of(e.previous)
            stateListeners.values.toList().forEach { l -> report { l(now, before) } }
        }
        eventListeners.values.toList().forEach { l -> report { l(event) } }
    }

    /** A listener's exception must not break the session: it goes to the thread's handler. */
    private inline fun report(block: () -> Unit) {
        try {
            block()
        } catch (e: Exception) {
            val t = Thread.currentThread()
            t.uncaughtExceptionHandler?.uncaughtException(t, e)
        }
    }

    private fun close() {
        closed = true
        disarm()
        calls.values.forEach { it.isCancelled = true }
        calls.clear()
        exchanges.values.forEach { it.cancel() }
        exchanges.clear()
        stateListeners.clear()
        eventListeners.clear()
        provider = null
    }
}

/** The reply's headers set on [builder] (over the caller's own). */
internal fun withHeaders(builder: Request.Builder, headers: List<HeaderPair>): Request.Builder {
    for (h in headers) builder.header(h.name, h.value)
    return builder
}
