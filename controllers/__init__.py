from . import portal
from . import cancellation
from . import portal_self_service
from . import signup
