// The Kotlin layer against the real reference backend (server/), on the JVM:
// `java … chatauth.test.ScenariosKt <scenario> <server url>`. Each scenario
// asserts what the app sees and prints one JSON line of figures (`result: {…}`)
// for tests/android/android.test.mjs, which also reads the server's request
// log (no expired token on the wire, the 401 and its one replay, …).
package chatauth.test

import chatauth.AuthState
import chatauth.ChatAuth
import chatauth.ChatAuthEvent
import chatauth.ChatAuthException
import chatauth.ChatAuthIOException
import chatauth.ContextCallback
import chatauth.ContextProvider
import chatauth.ContextRequest
import chatauth.KeyValueStore
import chatauth.LoginHandler
import chatauth.MemoryStore
import okhttp3.MediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.ExecutionException
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess

private const val WAIT_S = 30L
private val JSON = MediaType.parse("application/json")
private val FORM = MediaType.parse("application/x-www-form-urlencoded")

/** The app's OAuth client: the reference backend's messaging channel. */
private const val APP_CLIENT = "chat-messenger"

fun check(ok: Boolean, what: () -> String) {
    if (!ok) throw AssertionError(what())
}

/** A JSON string member of [json] (the test's own small reader: no JSON library on the plain JVM). */
fun jsonString(json: String, key: String): String? =
    Regex("\"" + Regex.escape(key) + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").find(json)?.groupValues?.get(1)

fun quote(s: String) = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\""

/** The backend: login, revoke, metadata, and an OkHttp client without chat-auth. */
class Backend(val origin: String) {
    val plain: OkHttpClient = OkHttpClient.Builder().callTimeout(WAIT_S, TimeUnit.SECONDS).build()
    val issuer: String = jsonString(get("/.well-known/oauth-authorization-server"), "issuer") ?: error("no issuer")

    fun get(path: String): String =
        plain.newCall(Request.Builder().url(origin + path).build()).execute().use { r ->
            check(r.isSuccessful) { "GET $path: ${r.code()}" }
            r.body()!!.string()
        }

    /** `POST /auth/login` for the app's client: the token response text. */
    fun login(user: String, password: String): String {
        val body = "{\"username\":${quote(user)},\"password\":${quote(password)},\"client_id\":\"$APP_CLIENT\"}"
        val request = Request.Builder().url("$origin/auth/login").post(RequestBody.create(JSON, body)).build()
        return plain.newCall(request).execute().use { r ->
            val text = r.body()!!.string()
            check(r.code() == 200) { "login $user: ${r.code()}" }
            text
        }
    }

    /** `POST /oauth/revoke`: ends the login session [token] belongs to (the server's side of a revoked session). */
    fun revoke(token: String) {
        val request = Request.Builder().url("$origin/oauth/revoke")
            .post(RequestBody.create(FORM, "token=" + java.net.URLEncoder.encode(token, "UTF-8"))).build()
        plain.newCall(request).execute().use { r -> check(r.code() == 200) { "revoke: ${r.code()}" } }
    }

    /** The options the web widget uses (www/shared.js), for the app's client. */
    fun options(maxRetries: Int = 2, storage: String = "memory"): String = """
        {"apiOrigins":[${quote(origin)}],"storage":"$storage",
         "tokenEndpoint":${quote("$origin/oauth/token")},
         "clientId":"$APP_CLIENT",
         "validation":{"algorithms":["ES256"],"jwksUrl":${quote("$origin/.well-known/jwks.json")},
                       "issuer":${quote(issuer)},"audience":"chat-api"},
         "refresh":{"maxRetries":$maxRetries}}
    """.trimIndent()
}

/**
 * The app's provider: the login's token response once, then (on
 * `needsRefresh`) a new login while [relogin] is set, else a failure.
 */
class LoginProvider(private val backend: Backend, private val user: String, private val password: String) : ContextProvider {
    @Volatile var pending: String? = null
    @Volatile var relogin = false
    val asked = ConcurrentLinkedQueue<String>()

    fun login(): String = backend.login(user, password).also { pending = it }

    override fun provideContext(request: ContextRequest, callback: ContextCallback) {
        asked.add("${request.reason}:${request.needsRefresh}")
        val context = pending
        if (context != null && !request.needsRefresh) {
            pending = null
            callback.onContext(context)
            return
        }
        if (!relogin) {
            callback.onError(IllegalStateException("login required"))
            return
        }
        // Never block the SDK's scheduler: log in on another thread.
        Thread {
            try {
                callback.onContext(backend.login(user, password))
            } catch (e: Exception) {
                callback.onError(e)
            }
        }.start()
    }
}

/** One app: a ChatAuth on its own scheduler, its OkHttp client, and what it heard. */
class App(
    val backend: Backend,
    user: String,
    password: String,
    maxRetries: Int = 2,
    store: KeyValueStore = MemoryStore(),
    storage: String = "memory",
) : AutoCloseable {
    val scheduler = Executors.newSingleThreadScheduledExecutor()
    val events = ConcurrentLinkedQueue<ChatAuthEvent>()
    val states = ConcurrentLinkedQueue<String>()
    val logins = ConcurrentLinkedQueue<String>()
    val provider = LoginProvider(backend, user, password)
    val auth = ChatAuth(
        backend.options(maxRetries, storage),
        scheduler,
        store = store,
        loginHandler = LoginHandler { code, reason -> logins.add("$code:$reason") },
    )
    val client: OkHttpClient = auth.install(OkHttpClient.Builder().callTimeout(WAIT_S * 4, TimeUnit.SECONDS).build())

    init {
        auth.addEventListener { events.add(it) }
        auth.addStateListener { state, previous -> states.add("${previous.wire}>${state.wire}") }
    }

    /** Logs in on the site and hands the session to chat-auth. */
    fun logIn(): String {
        val answer = provider.login()
        val customerId = jsonString(answer, "customer_id") ?: error("no customer_id")
        auth.setCustomer(customerId, provider).get(WAIT_S, TimeUnit.SECONDS)
        check(auth.state == AuthState.AUTHENTICATED) { "state after setCustomer: ${auth.state}" }
        check(auth.customerId == customerId) { "customerId" }
        return customerId
    }

    fun request(path: String, body: String? = null): Pair<Int, String> {
        val b = Request.Builder().url(backend.origin + path)
        auth.customerId?.let { b.header("Chat-Customer-Id", it) }
        if (body != null) b.post(RequestBody.create(JSON, body))
        return client.newCall(b.build()).execute().use { it.code() to it.body()!!.string() }
    }

    fun send(text: String): Int = request("/api/messages", "{\"text\":${quote(text)}}").first

    fun count(name: String) = events.count { it.name == name }

    fun waitFor(what: String, timeoutS: Long = WAIT_S, ok: () -> Boolean) {
        val until = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS)
        while (!ok()) {
            check(System.nanoTime() < until) { "timed out waiting for $what; events ${events.map { it.name }}" }
            Thread.sleep(50)
        }
    }

    /** The process dies: no destroy(), the threads just stop. */
    fun kill() {
        scheduler.shutdownNow()
        scheduler.awaitTermination(5, TimeUnit.SECONDS)
    }

    override fun close() {
        auth.destroy()
        scheduler.shutdown()
        scheduler.awaitTermination(5, TimeUnit.SECONDS)
    }
}

fun code(e: Throwable): String? = when (e) {
    is ChatAuthException -> e.code
    is ExecutionException -> e.cause?.let(::code)
    is ChatAuthIOException -> e.code
    else -> null
}

fun expectCode(expected: String, block: () -> Unit) {
    val got = try {
        block()
        null
    } catch (e: Exception) {
        code(e) ?: throw e
    }
    check(got == expected) { "expected $expected, got $got" }
}

/** checkCustomerId, decodeToken, verifyToken and bad options: the stable codes cross the FFI. */
fun api(backend: Backend): String {
    ChatAuth.checkCustomerId("c_8f3a9b2e")
    expectCode("customer_id_pii") { ChatAuth.checkCustomerId("jane@example.com") }
    expectCode("customer_id_invalid") { ChatAuth.checkCustomerId(" ") }
    val pii = try {
        ChatAuth.checkCustomerId("+14155552671")
        null
    } catch (e: ChatAuthException) {
        e.detail
    }
    check(pii == "phone") { "detail $pii" }
    val login = backend.login("alice", "wonderland")
    val token = jsonString(login, "access_token")!!
    val decoded = ChatAuth.decodeToken(token)
    check(decoded.headerJson.contains("ES256")) { decoded.headerJson }
    check(decoded.expiresAt != null) { "exp" }
    expectCode("malformed") { ChatAuth.decodeToken("not.a.token") }
    val jwks = backend.get("/.well-known/jwks.json")
    val options = "{\"algorithms\":[\"ES256\"],\"jwks\":$jwks,\"issuer\":${quote(backend.issuer)},\"audience\":\"chat-api\"}"
    val claims = ChatAuth.verifyToken(token, options)
    check(jsonString(claims, "sub") == jsonString(login, "customer_id")) { "sub" }
    expectCode("expired") { ChatAuth.verifyToken(token, options, decoded.expiresAt!! + 3_600_000) }
    expectCode("audience_mismatch") { ChatAuth.verifyToken(token, options.replace("chat-api", "other-api")) }
    val scheduler = Executors.newSingleThreadScheduledExecutor()
    try {
        expectCode("invalid_config") { ChatAuth("{\"apiOrigins\":[]}", scheduler) }
        expectCode("invalid_config") { ChatAuth("not json", scheduler) }
        // Not in this host yet (README, "Android and iOS"); `issuer` alone is fine since discovery.
        expectCode("invalid_config") { ChatAuth("{\"apiOrigins\":[\"https://a.example\"],\"dpop\":true}", scheduler) }
        val auth = ChatAuth(backend.options(), scheduler)
        expectCode("customer_id_pii") { auth.setCustomer("jane@example.com").get(WAIT_S, TimeUnit.SECONDS) }
        check(auth.getToken().get(WAIT_S, TimeUnit.SECONDS) == null) { "anonymous token" }
        auth.destroy()
        expectCode("destroyed") { auth.getToken().get(WAIT_S, TimeUnit.SECONDS) }
    } finally {
        scheduler.shutdown()
    }
    return "{\"codes\":[${ChatAuth.errorCodes().joinToString(",") { "\"$it\"" }}]}"
}

/** Login, authenticated requests through three token lifetimes, the allow-list. */
fun refresh(backend: Backend, ttlS: Int): String = App(backend, "alice", "wonderland").use { app ->
    val customerId = app.logIn()
    // The planned refresh: inside the margin before expiry (60 s, capped at 25 % of a short token's life).
    val expiresAt = app.auth.expiresAt!!
    val refreshAt = app.auth.refreshAt ?: error("no refresh planned")
    check(expiresAt - refreshAt in 1..ttlS * 250L) { "refreshAt ${expiresAt - refreshAt} ms before expiry" }
    val tokens = LinkedHashSet<String>()
    var sent = 0
    val until = System.currentTimeMillis() + (3L * ttlS + 2) * 1000
    // Bounded in time (three lifetimes and 2 s) and in count.
    while (System.currentTimeMillis() < until && sent < 200) {
        val status = app.send("App message ${++sent} while the token rotates")
        check(status == 201) { "send $sent: $status" }
        app.auth.getToken().get(WAIT_S, TimeUnit.SECONDS)?.let(tokens::add)
        Thread.sleep(600)
    }
    val refreshed = app.count("refreshed")
    check(refreshed >= 3) { "three refreshes, saw $refreshed" }
    check(tokens.size >= 4) { "four tokens, saw ${tokens.size}" }
    check(app.count("refresh-failed") == 0 && app.count("auth-lost") == 0) { "no failure: ${app.events.map { it.name }}" }
    check(app.events.filter { it.name == "refreshed" }.all { it.detailJson.contains("token_endpoint") }) { "refreshed through the token endpoint" }
    // The allow-list: the same server under another origin gets no token.
    val other = backend.origin.replace("127.0.0.1", "localhost")
    val foreign = app.client.newCall(Request.Builder().url("$other/api/me").build()).execute().use { it.code() }
    check(foreign == 401) { "another origin: $foreign" }
    val headers = app.auth.authHeaders("$other/api/me").get(WAIT_S, TimeUnit.SECONDS)
    check(headers.isEmpty()) { "headers for another origin: ${headers.keys}" }
    val own = app.auth.authHeaders(backend.origin + "/api/me").get(WAIT_S, TimeUnit.SECONDS)
    check(own["Authorization"]?.startsWith("Bearer ") == true && own["Chat-Anonymous-Id"] == app.auth.anonymousId) { "own headers: ${own.keys}" }
    "{\"customerId\":${quote(customerId)},\"sent\":$sent,\"refreshed\":$refreshed,\"tokens\":${tokens.size}}"
}

/** A 401 on a request: one refresh (the revoked session → the provider logs in again), one replay. */
fun replay(backend: Backend): String = App(backend, "bob", "builder").use { app ->
    app.logIn()
    val (before, _) = app.request("/api/messages")
    check(before == 200) { "before: $before" }
    val token = app.auth.getToken().get(WAIT_S, TimeUnit.SECONDS)!!
    backend.revoke(token)
    app.provider.relogin = true
    val (status, body) = app.request("/api/messages")
    check(status == 200) { "after the replay: $status" }
    check(body.contains("\"conversation\":\"customer\"")) { "the customer's conversation" }
    val after = app.auth.getToken().get(WAIT_S, TimeUnit.SECONDS)!!
    check(after != token) { "a new token" }
    check(app.provider.asked.any { it.endsWith(":true") }) { "the provider was asked for a fresh context: ${app.provider.asked}" }
    check(app.count("auth-lost") == 0) { "no auth-lost" }
    "{\"asked\":${app.provider.asked.size}}"
}

/**
 * The provider fails after the session is revoked: the forced refresh fails (the
 * token still valid until its expiry is kept), then auth-lost, the login handler,
 * and a getToken that fails with the stable code.
 */
fun providerFailure(backend: Backend): String = App(backend, "carol", "singing", maxRetries = 1).use { app ->
    app.logIn()
    val token = app.auth.getToken().get(WAIT_S, TimeUnit.SECONDS)!!
    backend.revoke(token)
    val forced = app.auth.getToken(forceRefresh = true)
    app.waitFor("auth-lost", WAIT_S * 2) { app.count("auth-lost") == 1 }
    check(forced.isDone) { "the forced getToken settled" }
    val lost = app.events.first { it.name == "auth-lost" }
    check(lost.detailJson.contains("provider_failed")) { "auth-lost detail ${lost.detailJson}" }
    check(app.count("refresh-failed") >= 2) { "refresh-failed for the token endpoint and the provider" }
    app.waitFor("the login handler") { app.logins.isNotEmpty() }
    check(app.logins.all { it.endsWith(":auth_lost") }) { "login handler ${app.logins}" }
    check(app.auth.state == AuthState.EXPIRED) { "state ${app.auth.state}" }
    check(app.states.any { it.endsWith(">expired") }) { "states ${app.states}" }
    val failed = try {
        app.auth.getToken().get(WAIT_S * 2, TimeUnit.SECONDS)
        null
    } catch (e: ExecutionException) {
        code(e)
    }
    check(failed != null) { "getToken after auth-lost fails" }
    // A request now fails in the SDK with the code: nothing goes out with the lost session's token.
    val request = try {
        "sent ${app.request("/api/messages").first}"
    } catch (e: ChatAuthIOException) {
        e.code
    }
    check(request == failed) { "the request after auth-lost: $request" }
    "{\"getToken\":${quote(failed!!)},\"request\":${quote(request)},\"logins\":${app.logins.size},\"refreshFailed\":${app.count("refresh-failed")}}"
}

/** Logout: the server session ends, chat-auth forgets the customer, requests go out anonymously. */
fun logout(backend: Backend): String = App(backend, "alice", "wonderland").use { app ->
    val customerId = app.logIn()
    val anonymous = app.auth.anonymousId
    val (status, _) = app.request("/auth/logout", "{}")
    check(status == 204) { "logout: $status" }
    app.auth.clearCustomer().get(WAIT_S, TimeUnit.SECONDS)
    check(app.auth.state == AuthState.LOGGED_OUT) { "state ${app.auth.state}" }
    check(app.auth.customerId == null) { "customerId" }
    check(app.auth.anonymousId != anonymous) { "a new anonymous id" }
    val out = app.events.first { it.name == "logged-out" }
    check(out.detailJson.contains(customerId)) { "logged-out detail" }
    check(app.auth.getToken().get(WAIT_S, TimeUnit.SECONDS) == null) { "no token" }
    val (after, body) = app.request("/api/messages")
    check(after == 200 && body.contains("\"conversation\":\"anonymous\"")) { "anonymous after logout: $after" }
    "{\"anonymousId\":${quote(app.auth.anonymousId)}}"
}

/** The customer's conversation as the app sees it, after sending [text]: `[channel, text]` pairs. */
fun history(backend: Backend, text: String): String = App(backend, "alice", "wonderland").use { app ->
    app.logIn()
    check(app.send(text) == 201) { "send" }
    val (status, body) = app.request("/api/messages")
    check(status == 200) { "history: $status" }
    val messages = Regex("\\{[^{}]*\"author\"[^{}]*\\}").findAll(body).map { m ->
        "[${quote(jsonString(m.value, "channel") ?: "")},${quote(jsonString(m.value, "author") ?: "")},${quote(jsonString(m.value, "text") ?: "")}]"
    }.toList()
    "{\"messages\":[${messages.joinToString(",")}]}"
}

/**
 * Eight app threads sending at once across token refreshes: every request
 * gets through with a valid token, and the refreshes stay one per window
 * (the driver decides for all of them; tests/android checks the server's count).
 */
fun threads(backend: Backend, ttlS: Int): String = App(backend, "bob", "builder").use { app ->
    app.logIn()
    val pool = Executors.newFixedThreadPool(8)
    val started = System.currentTimeMillis()
    try {
        val statuses = (1..8).map { worker ->
            pool.submit<List<Int>> {
                (1..6).map { i ->
                    Thread.sleep((ttlS * 1000L) / 4)
                    app.request("/api/messages").first.also { check(it == 200) { "worker $worker request $i: $it" } }
                }
            }
        }.flatMap { it.get(WAIT_S * 2, TimeUnit.SECONDS) }
        check(statuses.size == 48 && statuses.all { it == 200 }) { "statuses $statuses" }
    } finally {
        pool.shutdownNow()
    }
    check(app.count("auth-lost") == 0 && app.count("refresh-failed") == 0) { "no failure: ${app.events.map { it.name }}" }
    "{\"requests\":48,\"elapsedMs\":${System.currentTimeMillis() - started},\"refreshed\":${app.count("refreshed")}}"
}

/**
 * The app is killed and started again: with `"storage": "session"` and a
 * persistent [KeyValueStore], the new ChatAuth resumes the customer's
 * session from the store (no provider, no login) and keeps its anonymous id.
 */
fun restart(backend: Backend): String {
    val store = MemoryStore()
    val first = App(backend, "carol", "singing", store = store, storage = "session")
    val customerId = first.logIn()
    val anonymousId = first.auth.anonymousId
    first.kill()
    check(store.get(first.auth.tokenStorageKey) != null) { "the token entry was stored" }
    return App(backend, "carol", "wrong password", store = store, storage = "session").use { app ->
        check(app.auth.anonymousId == anonymousId) { "the stored anonymous id" }
        app.auth.setCustomer(customerId).get(WAIT_S, TimeUnit.SECONDS)
        check(app.auth.state == AuthState.AUTHENTICATED) { "state ${app.auth.state}" }
        check(app.provider.asked.isEmpty()) { "no provider call: ${app.provider.asked}" }
        val (status, body) = app.request("/api/messages")
        check(status == 200 && body.contains("\"conversation\":\"customer\"")) { "resumed: $status" }
        // And it refreshes with the stored refresh token.
        app.auth.getToken(forceRefresh = true).get(WAIT_S, TimeUnit.SECONDS)
        check(app.events.any { it.name == "refreshed" && it.detailJson.contains("token_endpoint") }) { "refreshed: ${app.events.map { it.detailJson }}" }
        "{\"resumed\":true}"
    }
}

fun main(args: Array<String>) {
    val scenario = args.getOrNull(0)
    val origin = args.getOrNull(1)?.trimEnd('/')
    if (scenario == null || origin == null) {
        System.err.println("usage: Scenarios <api|refresh|replay|provider-failure|logout|threads|restart|history> <server url> [ttl s | text]")
        exitProcess(2)
    }
    val backend = Backend(origin)
    val result = try {
        when (scenario) {
            "api" -> api(backend)
            "refresh" -> refresh(backend, args.getOrNull(2)?.toInt() ?: 4)
            "replay" -> replay(backend)
            "provider-failure" -> providerFailure(backend)
            "logout" -> logout(backend)
            "threads" -> threads(backend, args.getOrNull(2)?.toInt() ?: 4)
            "restart" -> restart(backend)
            "history" -> history(backend, args.getOrNull(2) ?: "Hello from the app")
            else -> error("unknown scenario $scenario")
        }
    } catch (e: Throwable) {
        System.err.println("scenario $scenario FAILED: $e")
        e.printStackTrace()
        exitProcess(1)
    }
    println("result: $result")
    exitProcess(0)
}
