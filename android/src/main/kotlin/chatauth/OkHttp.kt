package chatauth

import chatauth.ffi.HostInput
import chatauth.ffi.HostReply
import okhttp3.Authenticator
import okhttp3.Interceptor
import okhttp3.Request
import okhttp3.Response
import okhttp3.Route
import java.io.IOException

/**
 * One request through [ChatAuth.install]'s client, as a tag on the OkHttp
 * request: the driver's id for it, and how the driver ended it if the
 * [ChatAuthAuthenticator] heard the end (`Response` or `Reject`).
 */
internal class ChatAuthTag(val id: Long) {
    @Volatile
    var ended: HostReply? = null
}

/**
 * The application interceptor: asks the driver what request [chain]'s
 * request becomes (untouched for other origins, with `Authorization` and
 * `Chat-Anonymous-Id` for allowed ones), sends it, and reports the answer.
 * A 401 on the way is the [ChatAuthAuthenticator]'s.
 */
internal class ChatAuthInterceptor(private val auth: ChatAuth) : Interceptor {
    override fun intercept(chain: Interceptor.Chain): Response {
        val original = chain.request()
        val id = auth.newRequestId()
        val origin = ChatAuth.originOf(original.url())
        // install() turns redirects off: the driver is told the truth, and
        // OkHttp's own requests (bodies it can write again) are replayable.
        return when (val first = auth.await(id, HostInput.Fetch(id.toULong(), origin, false, true))) {
            is HostReply.Plain -> {
                val response = send(chain, original, id)
                auth.await(id, answered(id, response))
                response
            }
            is HostReply.Send -> {
                val tag = ChatAuthTag(id)
                val request = withHeaders(original.newBuilder(), first.headers).tag(ChatAuthTag::class.java, tag).build()
                val response = send(chain, request, id)
                val end = tag.ended ?: auth.await(id, answered(id, response))
                finish(end, response)
            }
            else -> throw failure(first, null)
        }
    }

    private fun answered(id: Long, response: Response) = HostInput.FetchAnswered(id.toULong(), response.code().toUShort(), false)

    /** Sends [request]; a failure is reported and rethrown as the driver says. */
    private fun send(chain: Interceptor.Chain, request: Request, id: Long): Response =
        try {
            chain.proceed(request)
        } catch (e: IOException) {
            val reply = auth.await(id, HostInput.FetchFailed(id.toULong(), chain.call().isCanceled))
            throw failure(reply, e)
        }

    private fun finish(end: HostReply, response: Response): Response =
        when (end) {
            is HostReply.Response -> response
            else -> {
                response.close()
                throw failure(end, null)
            }
        }

    private fun failure(reply: HostReply, cause: IOException?): IOException =
        when (reply) {
            is HostReply.Reject -> ChatAuthIOException(ChatAuthException(reply.code, reply.reason, cause = cause))
            is HostReply.Rethrow -> cause ?: IOException("Canceled")
            else -> ChatAuthIOException(ChatAuthException("network", "unexpected answer ${reply::class.simpleName}", cause = cause))
        }
}

/**
 * The 401 of a request that carried the driver's headers goes to the
 * driver: it refreshes once and answers with the headers to replay with
 * (OkHttp sends the request again), or ends the request (its 401 stands,
 * or it fails). Requests without the tag are not chat-auth's: no retry.
 */
internal class ChatAuthAuthenticator(private val auth: ChatAuth) : Authenticator {
    override fun authenticate(route: Route?, response: Response): Request? {
        val request = response.request()
        val tag = request.tag(ChatAuthTag::class.java) ?: return null
        if (tag.ended != null) return null
        return when (val reply = auth.await(tag.id, HostInput.FetchAnswered(tag.id.toULong(), response.code().toUShort(), false))) {
            is HostReply.Replay -> withHeaders(request.newBuilder(), reply.headers).build()
            else -> {
                tag.ended = reply
                null
            }
        }
    }
}
