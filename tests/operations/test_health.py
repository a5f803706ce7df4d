def test_it_reports_healthy_without_authentication(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["uptime"] >= 0
