// Turbo's <turbo-stream-source> gives up for good when a reconnect is answered with a non-200.
// Reopen it, without a position: the server then starts with a snapshot of the messages.
setInterval(function () {
  document.querySelectorAll("turbo-stream-source").forEach(function (element) {
    var source = element.streamSource
    if (source && source.readyState === EventSource.CLOSED) {
      var url = new URL(element.getAttribute("src"), location.href)
      url.searchParams.delete("after")
      var fresh = document.createElement("turbo-stream-source")
      fresh.setAttribute("src", url.pathname + url.search)
      element.replaceWith(fresh)
    }
  })
}, 1000)
