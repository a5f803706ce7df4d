from rest_framework.routers import SimpleRouter

from wells.api.views import WellViewSet

router = SimpleRouter()
router.register("wells", WellViewSet, basename="well")

urlpatterns = router.urls
