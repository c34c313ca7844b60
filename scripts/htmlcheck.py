#!/usr/bin/env python3
"""Opens a MailPort HTML report in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) and
checks what a person would do with it: no console errors, no network requests, one table row per host, sorting by
each numeric column both ways, filtering, the domain sections (grade, findings, links to hosts), and a screenshot. Prints one JSON object with what it saw.

  htmlcheck.py REPORT.html --screenshot OUT.png [--filter TEXT]
  htmlcheck.py REPORT.html --screenshot OUT.png --large

--large is for a report of thousands of hosts: what the page holds is read in one script (not element by element
through the driver), with the page's own load timing; a link to a host still held as inert text is followed, then
"Show all hosts" pressed, then the last row's link followed, each checked for the host's collapsed details.
"""
import argparse
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("html")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--filter", default="")
    parser.add_argument("--large", action="store_true")
    args = parser.parse_args()

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,2000", "--host-resolver-rules=MAP * ~NOTFOUND"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    result = {}
    try:
        driver.set_page_load_timeout(300)
        driver.get("file://" + args.html)
        if args.large:
            result = large(driver)
            driver.save_screenshot(args.screenshot)
            result["consoleErrors"] = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
            json.dump(result, sys.stdout)
            print()
            return
        rows = lambda: driver.find_elements(By.CSS_SELECTOR, "#hosts tbody tr")
        visible = lambda: [r for r in rows() if r.is_displayed()]
        result["rows"] = len(rows())
        result["hostsAttribute"] = [r.get_attribute("data-host") for r in rows()]
        result["title"] = driver.title
        result["overallGrade"] = driver.find_element(By.ID, "overall-grade").text
        result["svgCharts"] = len(driver.find_elements(By.CSS_SELECTOR, "#overview svg"))
        # Hosts whose audit is missing facts carry a visible marker in the host table, as a person sees it.
        result["incompleteMarkers"] = {
            r.get_attribute("data-host"): [m.text for m in r.find_elements(By.CSS_SELECTOR, ".incomplete") if m.is_displayed()]
            for r in rows() if r.find_elements(By.CSS_SELECTOR, ".incomplete")
        }

        # The verdict as seen: its text and computed colour (a pass is green only when it is one).
        verdict = driver.find_element(By.CSS_SELECTOR, "#overview .verdict")
        result["verdict"] = {"text": verdict.text, "color": verdict.value_of_css_property("color")}
        # The roll-up by rule, as rows a person reads, and the incomplete-endpoint line of the summary.
        result["ruleRows"] = [
            [td.text for td in r.find_elements(By.TAG_NAME, "td")]
            for r in driver.find_elements(By.CSS_SELECTOR, "#rule-rollup tbody tr") if r.is_displayed()
        ]
        summary = driver.find_elements(By.ID, "incomplete-summary")
        result["incompleteSummary"] = summary[0].text if summary and summary[0].is_displayed() else None

        # Sorting: every numeric column, ascending then descending, compared with its data-value attributes.
        heads = driver.find_elements(By.CSS_SELECTOR, "#hosts thead th")
        result["sorting"] = {}
        for index, head in enumerate(heads):
            label = head.text.strip()
            outcomes = []
            for direction in ("ascending", "descending"):
                head.click()
                values = [r.find_elements(By.TAG_NAME, "td")[index].get_attribute("data-value") for r in rows()]
                numeric = head.get_attribute("data-type") == "number"
                keys = [float(v) for v in values] if numeric else values
                expected = sorted(keys, reverse=(direction == "descending"))
                outcomes.append({"direction": direction, "aria": head.get_attribute("aria-sort"), "sorted": keys == expected,
                                 "order": [r.get_attribute("data-host") for r in rows()]})
            result["sorting"][label] = outcomes

        # Filtering: the text narrows the rows; clearing brings them back.
        box = driver.find_element(By.ID, "filter")
        if args.filter:
            box.send_keys(args.filter)
            result["filteredRows"] = [r.get_attribute("data-host") for r in visible()]
            result["shownText"] = driver.find_element(By.ID, "shown").text
            box.clear()
            box.send_keys(" ")
            box.send_keys("\b")
        result["rowsAfterClear"] = len(visible())

        # Domain mode: each domain's grade, its findings, and whether every link to a host lands on that host's details.
        result["domains"] = {}
        for article in driver.find_elements(By.CSS_SELECTOR, "article.domain"):
            links = [a.get_attribute("href").split("#", 1)[1] for a in article.find_elements(By.CSS_SELECTOR, "a[href^='#host-']")]
            result["domains"][article.get_attribute("data-domain")] = {
                "grade": article.find_element(By.CSS_SELECTOR, "h3 .badge").text,
                "findings": [li.get_attribute("data-rule") for li in article.find_elements(By.CSS_SELECTOR, "ul.findings > li")],
                "hostLinks": len(links),
                "hostLinksResolve": all(driver.execute_script("return document.getElementById(arguments[0]) !== null", link) for link in links),
            }

        # Nothing fetched: the page is self-contained.
        result["resourceRequests"] = driver.execute_script("return performance.getEntriesByType('resource').length")
        result["scriptsExecuted"] = driver.execute_script("return document.getElementById('shown').textContent.length > 0")
        driver.save_screenshot(args.screenshot)
        logs = driver.get_log("browser")
        result["consoleErrors"] = [entry["message"] for entry in logs if entry["level"] in ("SEVERE", "WARNING")]
    finally:
        driver.quit()
    json.dump(result, sys.stdout)
    print()


def large(driver):
    """A report of thousands of hosts: what the page holds when it opens (its worst hosts; the rest held as inert
    text), a link to a held host (its block of details is built, the host opens in view), then "Show all hosts"."""
    page = """
        var rows = document.querySelectorAll('#hosts tbody tr');
        var details = document.querySelectorAll('#details details.host');
        var order = [];
        for (var i = 0; i < rows.length; i++) { order.push(rows[i].getAttribute('data-host')); }
        var detailOrder = [];
        for (var j = 0; j < details.length; j++) { detailOrder.push(details[j].querySelector('h3').firstChild.textContent.trim()); }
        return {rows: rows.length, hostsAttribute: order, details: details.length, detailOrder: detailOrder,
                builtEndpoints: document.querySelectorAll('#details details.endpoint').length,
                openDetails: document.querySelectorAll('#details details.host[open]').length,
                heldRowBlocks: document.querySelectorAll('script[type="text/x-mailport-rows"]').length,
                heldHostBlocks: document.querySelectorAll('script[type="text/x-mailport-hosts"]').length,
                shownText: document.getElementById('shown').textContent};
    """
    result = driver.execute_script("""
        var nav = performance.getEntriesByType('navigation')[0];
        var details = document.querySelectorAll('#details details.host');
        return {contentVisibility: details.length ? getComputedStyle(details[0]).contentVisibility : null,
                overallGrade: document.getElementById('overall-grade').textContent,
                ruleRows: document.querySelectorAll('#rule-rollup tbody tr').length,
                domContentLoadedMs: nav.domContentLoadedEventEnd, loadMs: nav.loadEventEnd,
                resourceRequests: performance.getEntriesByType('resource').length};
    """)
    result["opened"] = driver.execute_script(page)
    opened_state = "var d = document.getElementById(arguments[0]); var r = d ? d.getBoundingClientRect() : null;" \
        "return d ? {open: d.open, inView: r.top >= -1 && r.top < window.innerHeight," \
        " endpoints: d.querySelectorAll('details.endpoint').length," \
        " held: d.querySelectorAll('script').length} : null;"
    # A link to a host whose row and details are still held: the last one in the held rows.
    held = driver.execute_script("""
        var block = document.querySelector('script[type="text/x-mailport-rows"]');
        var links = block ? block.textContent.match(/href="#(host-[0-9]+)"/g) : null;
        return links ? links[links.length - 1].slice(7, -1) : null;
    """)
    result["heldLink"] = held
    if held:
        driver.execute_script("location.hash = '#' + arguments[0];", held)
        result["followedHeld"] = driver.execute_script(opened_state, held)
        result["afterHeldLink"] = driver.execute_script(page)
    # Filtering looks at every host: the held rows are built first.
    held_address = driver.execute_script("""
        var block = document.querySelector('script[type="text/x-mailport-rows"]');
        var hosts = block ? block.textContent.match(/data-host="([^"]+)"/g) : null;
        return hosts ? hosts[hosts.length - 1].slice(11, -1) : null;
    """)
    if held_address:
        field = driver.find_element(By.ID, "filter")
        field.send_keys(held_address)
        result["filteredHeld"] = driver.execute_script(
            "return {rows: document.querySelectorAll('#hosts tbody tr').length,"
            " shown: [].filter.call(document.querySelectorAll('#hosts tbody tr'), function (r) { return !r.hidden; })"
            ".map(function (r) { return r.getAttribute('data-host'); }),"
            " shownText: document.getElementById('shown').textContent};")
        result["filteredHeld"]["address"] = held_address
        field.clear()
        driver.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'));")
    buttons = driver.find_elements(By.ID, "show-all")
    if buttons:
        buttons[0].click()
        result["showAllHidden"] = not buttons[0].is_displayed()
    result["all"] = driver.execute_script(page)
    # Follow the last row's link: its collapsed details open and come into view.
    link = driver.find_element(By.CSS_SELECTOR, "#hosts tbody tr:last-child a")
    target = link.get_attribute("href").split("#", 1)[1]
    driver.execute_script("arguments[0].scrollIntoView()", link)
    link.click()
    result["followedLink"] = driver.execute_script(opened_state, target)
    return result


if __name__ == "__main__":
    main()
